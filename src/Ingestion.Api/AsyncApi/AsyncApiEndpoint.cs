using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Ingestion.Api.AsyncApi;

internal static class AsyncApiEndpoint
{
    public const string Path = "/asyncapi.json";

    // Built on first request, once: the contracts cannot change while the process runs.
    private static readonly Lazy<string> Document = new(AsyncApiDocument.ToJson);

    /// <summary>
    /// The bus contract for other teams' services, beside /openapi/v1.json and like it anonymous: it describes message
    /// shapes and exchange names, nothing a caller could not learn from the contracts package.
    /// </summary>
    public static IEndpointRouteBuilder MapAsyncApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, () => Results.Text(Document.Value, "application/json", Encoding.UTF8)).ExcludeFromDescription();
        return app;
    }
}

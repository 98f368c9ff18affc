using System.Net.Http.Headers;
using EventBackbone.Console.SignIn;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Console.Api;

/// <summary>
/// Sends the signed-in operator's own access token with every API call, so each service checks the operator's scopes
/// and audits the operator, not the console. Without a sign-in the call goes without one and the API refuses it.
/// </summary>
internal sealed class OperatorTokenHandler(IHttpContextAccessor accessor) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (accessor.HttpContext is { } context && await ConsoleAuthentication.AccessTokenAsync(context) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}

using System.Net;

namespace EventBackbone.Cli.Api;

/// <summary>A successful answer, its body kept as text so <c>--json</c> can print exactly what the API said.</summary>
/// <param name="Next">The next page (a <c>Link</c> with <c>rel="next"</c>), for paged answers such as the audit.</param>
public sealed record ApiResponse(HttpStatusCode Status, string Body, Uri? Location, Uri? Next = null);

using System.Net;

namespace EventBackbone.Cli.Api;

/// <summary>A successful answer, its body kept as text so <c>--json</c> can print exactly what the API said.</summary>
public sealed record ApiResponse(HttpStatusCode Status, string Body, Uri? Location);

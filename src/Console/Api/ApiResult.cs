using System.Diagnostics.CodeAnalysis;

namespace EventBackbone.Console.Api;

/// <summary>An API call's value, or the problem to show instead; <see cref="NextLink"/> is a <c>Link: rel="next"</c> target.</summary>
internal sealed record ApiResult<T>(T? Value, ApiProblem? Problem, string? NextLink = null, string? Location = null)
{
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool Ok => Problem is null && Value is not null;
}

namespace EventBackbone.Contracts.Code;

/// <summary>Commits were pushed to a repository.</summary>
/// <param name="PushId">Our id for the push.</param>
/// <param name="Repository">The repository's full name, e.g. <c>octo/backbone</c>.</param>
/// <param name="Ref">The pushed ref, e.g. <c>refs/heads/main</c>.</param>
/// <param name="HeadCommit">The commit the ref points at after the push, if any.</param>
/// <param name="Pusher">Who pushed, when known.</param>
/// <param name="PushedAt">When the push was reported.</param>
public record CodePushed(
    Guid PushId,
    string Repository,
    string Ref,
    string? HeadCommit,
    string? Pusher,
    DateTimeOffset PushedAt);

namespace EventBackbone.ServiceDefaults.Authentication;

/// <summary>
/// The scopes the operators' console works with, in one place: the services that check them (DeadLetters, Workers,
/// Sagas) and the front door that tells a sign-in what it may do (<c>GET /api/v1/me/permissions</c>) must agree on
/// every name, or the console would enable a button the service then refuses.
/// </summary>
public static class OperatorScopes
{
    /// <summary>Every dead-letter read, and each service's outbox status.</summary>
    public const string DeadLettersRead = "dead-letters:read";

    /// <summary>Replay, dry runs, and replay jobs (list, cancel, resume).</summary>
    public const string DeadLettersReplay = "dead-letters:replay";

    /// <summary>Archive, restore, group notes, edit-and-replay.</summary>
    public const string DeadLettersEdit = "dead-letters:edit";

    public const string DeadLettersDelete = "dead-letters:delete";

    /// <summary>The reports on the Workers host.</summary>
    public const string ReportsRead = "reports:read";

    /// <summary>A signup's state and history on the Sagas host.</summary>
    public const string SignupsRead = "signups:read";
}

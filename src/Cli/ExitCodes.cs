namespace EventBackbone.Cli;

/// <summary>
/// The process exit codes scripts can rely on. They are part of the tool's interface: never renumber one, only add.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A replay job finished, but some of its messages failed or were not found.</summary>
    public const int PartialFailure = 1;

    /// <summary>Bad arguments: an unknown option, a malformed GUID or date, nothing selected, a missing reason.</summary>
    public const int Usage = 2;

    /// <summary>The API answered 401 or 403: no token, an expired one, or one without the scope.</summary>
    public const int NotAllowed = 3;

    public const int NotFound = 4;

    /// <summary>The API understood the request and refused it (409, 422 and any other 4xx).</summary>
    public const int Refused = 5;

    /// <summary>The API could not be reached, timed out, answered 5xx, or answered something unreadable.</summary>
    public const int Unavailable = 6;

    /// <summary>Interrupted with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    public static int ForStatus(int status) => status switch
    {
        401 or 403 => NotAllowed,
        404 => NotFound,
        >= 400 and < 500 => Refused,
        _ => Unavailable,
    };
}

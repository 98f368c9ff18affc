namespace EventBackbone.Deployment.Tests;

/// <summary>One line of compose/rabbitmq/service-accounts.conf: a host's broker user, its tags and permission regexes.</summary>
internal sealed record BrokerAccount(string Service, string Tags, string Configure, string Write, string Read)
{
    public IEnumerable<(string Kind, string Pattern)> Permissions => [("configure", Configure), ("write", Write), ("read", Read)];

    /// <summary>The prefix of the variables naming the service's credentials: <c>dead-letters</c> → <c>DEAD_LETTERS</c>.</summary>
    public static string VariablePrefix(string service) => service.ToUpperInvariant().Replace('-', '_');
}

/// <summary>
/// compose/rabbitmq/service-accounts.conf as compose/rabbitmq/service-accounts.sh reads it: one account per line,
/// <c>service tags configure write read</c> separated by whitespace, <c>-</c> for no tags, <c>#</c> comments.
/// </summary>
internal static class BrokerAccounts
{
    public const string RelativePath = "compose/rabbitmq/service-accounts.conf";

    /// <summary>The one-shot compose service that creates the accounts on the broker before any host starts.</summary>
    public const string ComposeService = "rabbitmq-accounts";

    /// <summary>The accounts by service, or none when the file does not exist.</summary>
    public static IReadOnlyDictionary<string, BrokerAccount> Load(Problems problems)
    {
        var accounts = new Dictionary<string, BrokerAccount>(StringComparer.Ordinal);
        if (!Repository.Exists(RelativePath))
        {
            problems.Add($"{RelativePath} does not exist: no host has a broker user of its own with limited permissions.");
            return accounts;
        }

        foreach (var line in Repository.ReadText(RelativePath).Split('\n').Select(x => x.Trim()).Where(x => x.Length > 0 && !x.StartsWith('#')))
        {
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 5)
            {
                problems.Add($"{RelativePath}: '{line}' is not 'service tags configure write read'.");
                continue;
            }

            problems.Check(accounts.TryAdd(fields[0], new BrokerAccount(fields[0], fields[1] == "-" ? "" : fields[1], fields[2], fields[3], fields[4])),
                $"{RelativePath}: {fields[0]} has two lines.");
        }

        return accounts;
    }
}

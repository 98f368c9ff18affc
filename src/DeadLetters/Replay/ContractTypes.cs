using System.Text.Json;

namespace EventBackbone.DeadLetters.Replay;

/// <summary>Finds the contract a dead letter carries from its MassTransit message type (<c>urn:message:Namespace:Type</c>).</summary>
public static class ContractTypes
{
    /// <summary>Strict: an edited body must be a complete, well-typed contract, not whatever System.Text.Json tolerates.</summary>
    public static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    private static readonly System.Reflection.Assembly ContractsAssembly = typeof(Contracts.Webhooks.WebhookReceived).Assembly;

    public static Type? Resolve(string? messageType)
    {
        var first = messageType?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is null)
        {
            return null;
        }

        var fullName = first;
        if (first.StartsWith("urn:message:", StringComparison.Ordinal))
        {
            var urn = first["urn:message:".Length..];
            var separator = urn.LastIndexOf(':');
            fullName = separator < 0 ? urn : $"{urn[..separator]}.{urn[(separator + 1)..]}";
        }

        // The contracts assembly by reference, not by "whatever is loaded": nothing in this service touches a contract
        // type, so the runtime never loaded EventBackbone.Contracts and every real contract was "not a known contract".
        // Then the loaded assemblies, where a test host's own contracts are.
        return ContractsAssembly.GetType(fullName, throwOnError: false)
            ?? AppDomain.CurrentDomain.GetAssemblies()
                .Select(assembly => assembly.GetType(fullName, throwOnError: false))
                .FirstOrDefault(type => type is not null);
    }
}

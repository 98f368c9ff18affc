using System.Text.Json;

namespace EventBackbone.DeadLetters.Replay;

/// <param name="Type">The JSON shape the field takes: string, uuid, date-time, integer, number, boolean, array or object.</param>
public sealed record ContractField(string Name, string Type);

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
        // Then the loaded assemblies, where a test host's own contracts are. Records only, and none of the framework's:
        // the name comes from an envelope anyone on the vhost may write, and edit-and-replay constructs the type from
        // the operator's JSON — "urn:message:System.IO:FileInfo" was a "contract" with its own edit form.
        return new[] { ContractsAssembly }.Concat(AppDomain.CurrentDomain.GetAssemblies().Where(assembly => !IsFramework(assembly)))
            .Select(assembly => assembly.GetType(fullName, throwOnError: false))
            .FirstOrDefault(type => type is not null && IsRecord(type));
    }

    /// <summary>A record class: the compiler gives it a <c>&lt;Clone&gt;$</c> method, which no hand-written class has.</summary>
    private static bool IsRecord(Type type) => type is { IsClass: true, IsAbstract: false } && type.GetMethod("<Clone>$") is not null;

    private static bool IsFramework(System.Reflection.Assembly assembly) =>
        assembly.GetName().Name is { } name && (name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft", StringComparison.Ordinal)
            || name is "mscorlib" or "netstandard");

    /// <summary>The contract's fields as its JSON names them: the parameters of its widest public constructor (a record's).</summary>
    public static IReadOnlyList<ContractField> Fields(Type contract) =>
        Constructor(contract)?.GetParameters().Select(p => new ContractField(JsonName(p.Name!), JsonType(p.ParameterType))).ToList() ?? [];

    /// <summary>
    /// Why <paramref name="message"/> is not a valid <paramref name="contract"/>, keyed by the JSON field path (e.g.
    /// <c>signupId</c>) so a form can show each error next to its field; empty when it is valid.
    /// </summary>
    public static Dictionary<string, string[]> Validate(JsonElement message, Type contract)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            return new() { ["message"] = [$"A {contract.Name} is a JSON object."] };
        }

        var present = message.EnumerateObject().Select(x => x.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = (Constructor(contract)?.GetParameters() ?? []).Where(p => !p.HasDefaultValue && !present.Contains(p.Name!))
            .ToDictionary(p => JsonName(p.Name!), p => new[] { $"{JsonName(p.Name!)} is required." });
        if (missing.Count > 0)
        {
            return missing;
        }

        try
        {
            _ = JsonSerializer.Deserialize(message, contract, Strict) ?? throw new JsonException("The message is null.");
            return [];
        }
        catch (JsonException invalid)
        {
            // "$.signupId" names the field; "$" (the whole object) or no path leaves the error on the message.
            var field = invalid.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "message";
            return new() { [field] = [$"Not a valid {contract.Name}: {invalid.Message}"] };
        }
    }

    private static System.Reflection.ConstructorInfo? Constructor(Type contract) =>
        contract.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();

    private static string JsonName(string name) => JsonNamingPolicy.CamelCase.ConvertName(name);

    private static string JsonType(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type == typeof(string) => "string",
            _ when type == typeof(Guid) => "uuid",
            _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "date-time",
            _ when type == typeof(DateOnly) => "date",
            _ when type == typeof(bool) => "boolean",
            _ when type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) => "integer",
            _ when type == typeof(decimal) || type == typeof(double) || type == typeof(float) => "number",
            _ when type.IsEnum => "string",
            _ when type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(type) => "array",
            _ => "object",
        };
    }
}

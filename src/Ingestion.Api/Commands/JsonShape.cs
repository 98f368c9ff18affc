using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>
/// Checks a JSON object against a record's constructor and collects <b>every</b> problem, field by field, for a 422:
/// System.Text.Json stops at the first error, which would make a caller fix one field per round trip.
/// Rules: every non-nullable parameter is present and not null; every value converts to its parameter's type;
/// strings are not blank and ids not the empty UUID; no member the record does not have (a typo is an error, not a
/// silently dropped field).
/// </summary>
public static class JsonShape
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public static void Validate(JsonElement element, Type type, string path, IDictionary<string, string[]> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Add(errors, path, "must be a JSON object.");
            return;
        }

        // Checked field by field below, but bound by the deserializer, which takes the last of several same-named
        // members (names match case-insensitively): without this, {"email":"a@b.c","email":null} passed the checks
        // and reached the command as null (a 500), or a checked value was swapped for an unchecked one.
        var repeated = element.EnumerateObject().GroupBy(property => property.Name, StringComparer.OrdinalIgnoreCase)
            .Where(group => group.Count() > 1).Select(group => group.Key).ToList();
        foreach (var name in repeated)
        {
            Add(errors, path.Length == 0 ? name : $"{path}.{name}", "is given more than once.");
        }

        if (repeated.Count > 0)
        {
            return;
        }

        var parameters = type.GetConstructors().MaxBy(constructor => constructor.GetParameters().Length)?.GetParameters() ?? [];
        // One per call: NullabilityInfoContext is not thread-safe, and a shared one failed concurrent requests with 500s
        // ("An item with the same key has already been added") the first time a command type was validated.
        var nullability = new NullabilityInfoContext();
        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parameters)
        {
            var name = JsonNamingPolicy.CamelCase.ConvertName(parameter.Name!);
            known.Add(name);
            var field = path.Length == 0 ? name : $"{path}.{name}";
            var optional = parameter.HasDefaultValue || Nullable.GetUnderlyingType(parameter.ParameterType) is not null
                || (!parameter.ParameterType.IsValueType && nullability.Create(parameter).WriteState == NullabilityState.Nullable);
            if (!TryGetProperty(element, name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (!optional)
                {
                    Add(errors, field, value.ValueKind == JsonValueKind.Null ? "must not be null." : "is required.");
                }

                continue;
            }

            ValidateValue(value, Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType, field, errors);
        }

        foreach (var property in element.EnumerateObject().Where(property => !known.Contains(property.Name)))
        {
            Add(errors, path.Length == 0 ? property.Name : $"{path}.{property.Name}", $"is not a field of {type.Name}.");
        }
    }

    private static void ValidateValue(JsonElement value, Type type, string field, IDictionary<string, string[]> errors)
    {
        if (IsRecordLike(type))
        {
            Validate(value, type, field, errors);
            return;
        }

        object? converted;
        try
        {
            converted = value.Deserialize(type, Options);
        }
        catch (JsonException)
        {
            Add(errors, field, $"must be {Describe(type)}.");
            return;
        }

        switch (converted)
        {
            case string text when string.IsNullOrWhiteSpace(text):
                Add(errors, field, "must not be empty.");
                break;
            case Guid id when id == Guid.Empty:
                Add(errors, field, "must not be the empty UUID.");
                break;
        }
    }

    private static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static bool IsRecordLike(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(type)
        && type.GetMethod("<Clone>$") is not null;

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(string) => "a string",
        _ when type == typeof(Guid) => "a UUID",
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "an ISO 8601 date and time",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "a whole number",
        _ when type == typeof(decimal) || type == typeof(double) || type == typeof(float) => "a number",
        _ when type.IsEnum => $"one of {string.Join(", ", Enum.GetNames(type))}",
        _ when typeof(System.Collections.IEnumerable).IsAssignableFrom(type) => "an array",
        _ => $"a {type.Name}",
    };

    public static void Add(IDictionary<string, string[]> errors, string field, string message) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
}

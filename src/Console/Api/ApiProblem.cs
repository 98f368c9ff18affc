using System.Text.Json;

namespace EventBackbone.Console.Api;

/// <summary>
/// What an API call answered instead of success, ready to show: an RFC 9457 problem (with its field errors), or the
/// front door being unreachable (<see cref="Status"/> 0). Public only because the components that show it are.
/// </summary>
public sealed record ApiProblem(int Status, string Title, string? Detail, string? Type, IReadOnlyDictionary<string, string[]> Errors)
{
    public static ApiProblem Unreachable(Uri frontDoor, string why) =>
        new(0, "The front door is unreachable", $"{frontDoor} did not answer ({why}).", null, new Dictionary<string, string[]>());

    public bool SignInExpired => Status == 401;

    public bool Forbidden => Status == 403;

    /// <summary>One line for the top of a form: the problem's detail, else its title.</summary>
    public string Message =>
        Status switch
        {
            401 => "Your sign-in has expired or was refused by the API. Sign in again.",
            403 => $"Refused: {Detail ?? "your sign-in lacks the scope this needs."}",
            _ => Detail is null ? Title : $"{Title}: {Detail}",
        };

    /// <summary>The errors for one field (the API keys them by JSON field name or path, in any case).</summary>
    public IReadOnlyList<string> ErrorsFor(string field) =>
        [.. Errors.Where(x => string.Equals(x.Key, field, StringComparison.OrdinalIgnoreCase)
                || x.Key.EndsWith("." + field, StringComparison.OrdinalIgnoreCase)
                || string.Equals(x.Key.TrimStart('$', '.'), field, StringComparison.OrdinalIgnoreCase))
            .SelectMany(x => x.Value)];

    /// <summary>Field errors not shown next to any of <paramref name="shownFields"/>.</summary>
    public IEnumerable<string> OtherErrors(params string[] shownFields) =>
        Errors.Where(x => !shownFields.Any(field => ErrorsFor(field).Count > 0 && x.Value.All(v => ErrorsFor(field).Contains(v))))
            .SelectMany(x => x.Value.Select(message => string.IsNullOrEmpty(x.Key) ? message : $"{x.Key}: {message}"));

    public static ApiProblem From(int status, string? reasonPhrase, string content)
    {
        try
        {
            using var json = JsonDocument.Parse(content);
            var root = json.RootElement;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errors", out var fieldErrors) && fieldErrors.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in fieldErrors.EnumerateObject())
                {
                    errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? [.. field.Value.EnumerateArray().Select(x => x.ToString())]
                        : [field.Value.ToString()];
                }
            }

            return new ApiProblem(
                status,
                Text(root, "title") ?? reasonPhrase ?? $"HTTP {status}",
                Text(root, "detail"),
                Text(root, "type"),
                errors);
        }
        catch (JsonException)
        {
            return new ApiProblem(status, reasonPhrase ?? $"HTTP {status}", null, null, new Dictionary<string, string[]>());
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

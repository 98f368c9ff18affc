using System.Text;
using System.Text.RegularExpressions;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// The configuration keys a body of C# reads, found in its string literals: <c>"Backbone:RabbitMq:Host"</c>, and
/// interpolated ones such as <c>$"{Section}:SigningKeys:{index}"</c>, where a constant of the same file (or one
/// defined once in the code) fills its hole and any other hole stands for one key segment. A deployment setting is
/// accepted when one of these matches its key; an array element (<c>SigningKeys:0</c>) also when its section is read.
/// </summary>
internal sealed partial class ConfigurationReads
{
    private readonly IReadOnlyList<Regex> _keys;

    private ConfigurationReads(IReadOnlyList<Regex> keys, IReadOnlySet<string> serviceDatabases)
    {
        _keys = keys;
        ServiceDatabases = serviceDatabases;
    }

    /// <summary>The names passed to <c>AddServiceDatabase&lt;T&gt;(…)</c>: the connection strings the code requires.</summary>
    public IReadOnlySet<string> ServiceDatabases { get; }

    public static ConfigurationReads From(IEnumerable<string> sourceFiles)
    {
        var files = sourceFiles.Select(path => (Path: path, Text: Repository.ReadText(path))).ToList();
        var constantsByFile = files.ToDictionary(file => file.Path, file => Constants(file.Text), StringComparer.Ordinal);
        // A constant referenced from another file (BackboneAuthSettings.Section) resolves only when its name means one
        // value everywhere; several files call theirs `Section`.
        var unique = constantsByFile.Values.SelectMany(x => x)
            .GroupBy(x => x.Key, StringComparer.Ordinal)
            .Where(group => group.Select(x => x.Value).Distinct(StringComparer.Ordinal).Count() == 1)
            .ToDictionary(group => group.Key, group => group.First().Value, StringComparer.Ordinal);

        string? Resolve(string file, string expression)
        {
            var name = expression.Split('.')[^1];
            return constantsByFile[file].TryGetValue(name, out var own) ? own : unique.GetValueOrDefault(name);
        }

        var keys = new List<Regex>();
        var databases = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (path, text) in files)
        {
            foreach (Match literal in StringLiteral().Matches(text))
            {
                var value = literal.Groups["text"].Value;
                if (value.Length > 0)
                {
                    keys.Add(KeyPattern(value, literal.Groups["interpolated"].Success, expression => Resolve(path, expression)));
                }
            }

            foreach (Match call in ServiceDatabaseCall().Matches(text))
            {
                var name = call.Groups["literal"].Success ? call.Groups["literal"].Value : Resolve(path, call.Groups["constant"].Value);
                if (name is not null)
                {
                    databases.Add(name);
                }
            }
        }

        return new ConfigurationReads(keys, databases);
    }

    /// <summary>Whether the code reads <paramref name="key"/> (written with <c>:</c>), or the array it is an element of.</summary>
    public bool Reads(string key)
    {
        if (_keys.Any(pattern => pattern.IsMatch(key)))
        {
            return true;
        }

        var separator = key.LastIndexOf(':');
        return separator > 0 && key[(separator + 1)..].All(char.IsAsciiDigit) && Reads(key[..separator]);
    }

    private static Dictionary<string, string> Constants(string text) =>
        ConstantString().Matches(text)
            .GroupBy(match => match.Groups["name"].Value, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.First().Groups["value"].Value, StringComparer.Ordinal);

    private static Regex KeyPattern(string literal, bool interpolated, Func<string, string?> resolve)
    {
        var pattern = new StringBuilder("^");
        var position = 0;
        foreach (var hole in interpolated ? InterpolationHole().Matches(literal) : Enumerable.Empty<Match>())
        {
            pattern.Append(Regex.Escape(literal[position..hole.Index]));
            var value = resolve(hole.Groups["expression"].Value.Trim());
            pattern.Append(value is null ? "[^:]+" : Regex.Escape(value));
            position = hole.Index + hole.Length;
        }

        pattern.Append(Regex.Escape(literal[position..])).Append('$');
        // Configuration keys are case-insensitive, as the configuration providers treat them.
        return new Regex(pattern.ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    [GeneratedRegex(@"(?<interpolated>\$@?|@\$)?@?""(?<text>(?:[^""\\\r\n]|\\.)*)""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex("""const\s+string\s+(?<name>\w+)\s*=\s*"(?<value>[^"\\]*)"\s*;""")]
    private static partial Regex ConstantString();

    [GeneratedRegex(@"\{(?<expression>[^{}:,]+)(?:[:,][^{}]*)?\}")]
    private static partial Regex InterpolationHole();

    [GeneratedRegex("""AddServiceDatabase<[^>]+>\(\s*(?:"(?<literal>[^"]+)"|(?<constant>[\w.]+))\s*\)""")]
    private static partial Regex ServiceDatabaseCall();
}

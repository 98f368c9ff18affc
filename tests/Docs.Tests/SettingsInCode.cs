using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Docs.Tests;

/// <summary>A configuration key the code reads, as a pattern (<c>*</c> for a list index or a name), and where it is.</summary>
internal sealed record SettingInCode(string Key, string Where);

/// <summary>
/// The settings the code reads, found by scanning <c>src/**/*.cs</c> (without obj/, bin/ and EF migrations):
/// <list type="number">
/// <item>every string literal or interpolated string that, once its holes are filled, is a whole key under
/// <c>Backbone:</c> or <c>ConnectionStrings:</c> — a hole is filled with a string constant of the same file (or
/// <c>Type.Constant</c> of any file), a string local of the same file (<c>var prefix = $"…"</c>), or, for a parameter,
/// the constant arguments of the method's call sites; any other hole (a loop index, a section's own key) is <c>*</c>;</item>
/// <item>the literal key of every other read through <c>IConfiguration</c>'s indexer or <c>SettingsReader</c>
/// (<c>configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]</c>, <c>settings.Optional("Urls")</c>).</item>
/// </list>
/// Every settings reader in src names its key this way (SettingsReader takes full keys; lists are read by
/// <c>GetSection(key).GetChildren()</c>), so the list is exact as long as that holds. A trailing <c>:*</c> is dropped
/// (a list or map is documented by its key), and a key that is the start of another (a section, e.g. <c>Backbone:Auth</c>)
/// is not a setting of its own.
/// </summary>
internal static partial class SettingsInCode
{
    public static IReadOnlyList<SettingInCode> Scan()
    {
        var src = Path.Combine(RepositoryLayout.Root, "src");
        var files = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "obj" or "bin" or "Migrations"))
            .Order(StringComparer.Ordinal)
            .Select(path => new SourceFile(Path.GetRelativePath(RepositoryLayout.Root, path).Replace('\\', '/'), File.ReadAllLines(path)))
            .ToList();
        return Normalize(Collect(files));
    }

    /// <summary>Drops a trailing <c>:*</c> (a list or map is one setting) and sections that only prefix other keys.</summary>
    public static string Normalize(string key) => key.EndsWith(":*", StringComparison.Ordinal) ? Normalize(key[..^2]) : key;

    private static List<SettingInCode> Normalize(IEnumerable<SettingInCode> found)
    {
        var keys = found.Select(x => x with { Key = Normalize(x.Key) }).ToList();
        return
        [
            .. keys
                .Where(x => !keys.Any(other => other.Key.StartsWith(x.Key + ":", StringComparison.Ordinal)))
                .GroupBy(x => x.Key, StringComparer.Ordinal)
                .Select(g => g.First())
                .OrderBy(x => x.Key, StringComparer.Ordinal),
        ];
    }

    private static IEnumerable<SettingInCode> Collect(IReadOnlyList<SourceFile> files)
    {
        var constants = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var (qualified, value) in file.QualifiedConstants)
            {
                constants.TryAdd(qualified, []);
                constants[qualified].Add(value);
            }
        }

        foreach (var file in files)
        {
            for (var i = 0; i < file.Lines.Length; i++)
            {
                var line = file.Lines[i];
                if (line.TrimStart().StartsWith("//", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (Match text in StringLiteral().Matches(line))
                {
                    foreach (var key in Expand(text.Groups["text"].Value, text.Groups["interpolated"].Success, file, files, constants, depth: 0))
                    {
                        if (KeyUnderOurRoots().IsMatch(key))
                        {
                            yield return new SettingInCode(key, $"{file.Path}:{i + 1}");
                        }
                    }
                }

                foreach (Match read in DirectRead().Matches(line))
                {
                    yield return new SettingInCode(read.Groups["key"].Value, $"{file.Path}:{i + 1}");
                }
            }
        }
    }

    /// <summary>The values an interpolated string can have, one per combination of its holes' values.</summary>
    private static IEnumerable<string> Expand(
        string text, bool interpolated, SourceFile file, IReadOnlyList<SourceFile> files, Dictionary<string, List<string>> constants, int depth)
    {
        if (!interpolated || depth > 4)
        {
            return [text];
        }

        IEnumerable<string> results = [""];
        var position = 0;
        foreach (Match hole in Hole().Matches(text))
        {
            var before = text[position..hole.Index];
            var values = HoleValues(hole.Groups["expression"].Value.Trim(), file, files, constants, depth);
            results = [.. results.SelectMany(prefix => values.Select(value => prefix + before + value))];
            position = hole.Index + hole.Length;
        }

        var rest = text[position..];
        return results.Select(x => x + rest);
    }

    private static IReadOnlyList<string> HoleValues(
        string expression, SourceFile file, IReadOnlyList<SourceFile> files, Dictionary<string, List<string>> constants, int depth)
    {
        if (file.Constants.TryGetValue(expression, out var constant))
        {
            return [constant];
        }

        if (constants.TryGetValue(expression, out var qualified) && qualified.Count == 1)
        {
            return qualified;
        }

        if (file.StringLocals.TryGetValue(expression, out var local))
        {
            return [.. Expand(local.Text, local.Interpolated, file, files, constants, depth + 1)];
        }

        if (file.StringParameters.TryGetValue(expression, out var method))
        {
            var arguments = CallSiteArguments(method, files, constants).ToList();
            if (arguments.Count > 0 && arguments.All(x => x is not null))
            {
                return [.. arguments.OfType<string>().Distinct(StringComparer.Ordinal)];
            }
        }

        return ["*"];
    }

    /// <summary>The constant first arguments passed to <paramref name="method"/> anywhere in src (null where not constant).</summary>
    private static IEnumerable<string?> CallSiteArguments(string method, IReadOnlyList<SourceFile> files, Dictionary<string, List<string>> constants)
    {
        var call = new Regex($@"\b{Regex.Escape(method)}(?:<[^>()]*>)?\(\s*(?<argument>""[^""]*""|[A-Za-z_][\w.]*)\s*\)");
        foreach (var file in files)
        {
            foreach (var line in file.Lines.Where(x => !x.TrimStart().StartsWith("//", StringComparison.Ordinal)))
            {
                foreach (Match match in call.Matches(line))
                {
                    var argument = match.Groups["argument"].Value;
                    // Inside a string it is a message about the method (an odd number of quotes before it), not a call.
                    if (line[..match.Index].Count(c => c == '"') % 2 == 1)
                    {
                        continue;
                    }

                    yield return argument.StartsWith('"')
                        ? argument.Trim('"')
                        : file.Constants.TryGetValue(argument, out var same) ? same
                        : constants.TryGetValue(argument, out var other) && other.Count == 1 ? other[0]
                        : null;
                }
            }
        }
    }

    private sealed partial class SourceFile
    {
        public SourceFile(string path, string[] lines)
        {
            Path = path;
            Lines = lines;
            var code = string.Join('\n', lines);
            var types = TypeDeclaration().Matches(code);
            // Type.Constant elsewhere names the type the constant is declared in: the nearest declaration above it, not
            // the file's first type (WebhookIngestionSettings.SourcesSection sits below the WebhookSource record).
            QualifiedConstants = [.. ConstantDeclaration().Matches(code).Select(constant => (
                $"{types.LastOrDefault(type => type.Index < constant.Index)?.Groups["name"].Value}.{constant.Groups["name"].Value}",
                constant.Groups["value"].Value))];
            Constants = ConstantDeclaration().Matches(code)
                .GroupBy(x => x.Groups["name"].Value, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Groups["value"].Value, StringComparer.Ordinal);
            StringLocals = StringLocal().Matches(code)
                .GroupBy(x => x.Groups["name"].Value, StringComparer.Ordinal)
                .Where(g => g.Count() == 1)
                .ToDictionary(g => g.Key, g => (g.First().Groups["text"].Value, g.First().Groups["interpolated"].Success), StringComparer.Ordinal);
            StringParameters = [];
            foreach (Match method in MethodWithStringParameter().Matches(code))
            {
                StringParameters.TryAdd(method.Groups["parameter"].Value, method.Groups["method"].Value);
            }
        }

        public string Path { get; }

        public string[] Lines { get; }

        /// <summary>Each constant as <c>Type.Constant</c> elsewhere refers to it, with its value.</summary>
        public IReadOnlyList<(string Qualified, string Value)> QualifiedConstants { get; }

        public Dictionary<string, string> Constants { get; }

        public Dictionary<string, (string Text, bool Interpolated)> StringLocals { get; }

        /// <summary>Parameter name → the method it belongs to, for <c>string</c> parameters.</summary>
        public Dictionary<string, string> StringParameters { get; }

        [GeneratedRegex(@"\b(?:class|record|struct|interface)\s+(?<name>[A-Z]\w*)")]
        private static partial Regex TypeDeclaration();

        [GeneratedRegex(@"\bconst\s+string\s+(?<name>\w+)\s*=\s*""(?<value>[^""]*)""\s*;")]
        private static partial Regex ConstantDeclaration();

        [GeneratedRegex(@"\bvar\s+(?<name>\w+)\s*=\s*(?<interpolated>\$)?""(?<text>[^""]*)""\s*;")]
        private static partial Regex StringLocal();

        [GeneratedRegex(@"\b(?<method>[A-Z]\w*)(?:<[^>()]*>)?\([^)]*\bstring\s+(?<parameter>\w+)\s*[,)]")]
        private static partial Regex MethodWithStringParameter();
    }

    [GeneratedRegex(@"(?<interpolated>\$)?(?<!@)""(?<text>(?:[^""\\]|\\.)*)""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{(?<expression>[^{}:]+)\}")]
    private static partial Regex Hole();

    [GeneratedRegex(@"^(?:Backbone|ConnectionStrings)(?::(?:[A-Za-z][A-Za-z0-9]*|\*))+$")]
    private static partial Regex KeyUnderOurRoots();

    [GeneratedRegex(@"(?:[Cc]onfiguration\[|\bsettings\.(?:Optional|Required|String|Bool|Int|Duration|AbsoluteUri|Networks|Enum(?:<\w+>)?)\()\s*""(?<key>(?!Backbone:|ConnectionStrings:)[A-Za-z_][\w:]*)""")]
    private static partial Regex DirectRead();
}

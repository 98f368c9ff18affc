using System.Text.Json;
using System.Text.RegularExpressions;

namespace EventBackbone.Deployment.Tests;

/// <summary>One instruction, its continuation lines joined; <see cref="Stage"/> counts FROMs (0 = before the first).</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments, int Stage);

/// <summary>A Dockerfile read the way the builder reads it: comments dropped, continued lines joined.</summary>
internal sealed partial class Dockerfile
{
    private Dockerfile(string relativePath, IReadOnlyList<DockerInstruction> instructions)
    {
        RelativePath = relativePath;
        Instructions = instructions;
    }

    public string RelativePath { get; }

    public IReadOnlyList<DockerInstruction> Instructions { get; }

    /// <summary>Where a per-Dockerfile ignore file must be for BuildKit to use it instead of the context's.</summary>
    public string IgnoreFile => RelativePath + ".dockerignore";

    private int FinalStage => Instructions.Max(x => x.Stage);

    /// <summary>The ARGs declared before the first FROM, with their defaults: what FROM lines may use.</summary>
    public IReadOnlyDictionary<string, string> GlobalArgs =>
        Instructions.Where(x => x is { Keyword: "ARG", Stage: 0 })
            .Select(x => x.Arguments.Split('=', 2))
            .ToDictionary(parts => parts[0].Trim(), parts => parts.Length > 1 ? parts[1].Trim() : "", StringComparer.Ordinal);

    /// <summary>Each stage's base image, ARG defaults substituted.</summary>
    public IReadOnlyList<string> BaseImages =>
        [.. Instructions.Where(x => x.Keyword == "FROM")
            .Select(x => ArgReference().Replace(x.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], m => GlobalArgs.GetValueOrDefault(m.Groups["name"].Value, m.Value)))];

    /// <summary>Paths a COPY or ADD takes from the build context (those taking from another stage are not in it).</summary>
    public IEnumerable<string> ContextSources =>
        Instructions.Where(x => x.Keyword is "COPY" or "ADD")
            .Select(x => Words(x.Arguments))
            .Where(words => !words.Any(word => word.StartsWith("--from=", StringComparison.Ordinal)))
            .SelectMany(words => words.Where(word => !word.StartsWith("--", StringComparison.Ordinal)).SkipLast(1));

    /// <summary>Every project file a RUN instruction names (restore, build, publish).</summary>
    public IEnumerable<string> ProjectFilesRun =>
        Instructions.Where(x => x.Keyword == "RUN")
            .SelectMany(x => Words(x.Arguments))
            .Where(word => word.EndsWith(".csproj", StringComparison.Ordinal));

    /// <summary>The project <c>dotnet publish</c> builds: the host this image runs.</summary>
    public string? PublishedProject =>
        Instructions.Where(x => x.Keyword == "RUN")
            .Select(x => PublishCommand().Match(x.Arguments))
            .Where(match => match.Success)
            .Select(match => match.Groups["project"].Value)
            .LastOrDefault();

    /// <summary>The final stage's ENTRYPOINT in exec form, or null.</summary>
    public IReadOnlyList<string>? Entrypoint =>
        Instructions.LastOrDefault(x => x.Keyword == "ENTRYPOINT" && x.Stage == FinalStage) is { } entrypoint
        && entrypoint.Arguments.TrimStart().StartsWith('[')
            ? JsonSerializer.Deserialize<string[]>(entrypoint.Arguments)
            : null;

    /// <summary>The user the final stage runs as; null means root.</summary>
    public string? User => Instructions.LastOrDefault(x => x.Keyword == "USER" && x.Stage == FinalStage)?.Arguments.Trim();

    public IEnumerable<int> ExposedPorts =>
        Instructions.Where(x => x.Keyword == "EXPOSE" && x.Stage == FinalStage)
            .SelectMany(x => Words(x.Arguments))
            .Select(word => int.Parse(word.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture));

    public static Dockerfile Load(string relativePath)
    {
        var instructions = new List<DockerInstruction>();
        var stage = 0;
        var pending = "";
        foreach (var raw in Repository.ReadText(relativePath).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            // Comment lines (parser directives too) are dropped, also between continuation lines, as the builder does.
            if (line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var text = (pending + line).Trim();
            pending = "";
            if (text.Length == 0)
            {
                continue;
            }

            var parts = text.Split((char[])[' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries);
            var keyword = parts[0].ToUpperInvariant();
            if (keyword == "FROM")
            {
                stage++;
            }

            instructions.Add(new DockerInstruction(keyword, parts.Length > 1 ? parts[1].Trim() : "", stage));
        }

        return new Dockerfile(relativePath, instructions);
    }

    private static string[] Words(string arguments) =>
        arguments.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);

    [GeneratedRegex(@"\$\{?(?<name>\w+)\}?")]
    private static partial Regex ArgReference();

    [GeneratedRegex(@"dotnet\s+publish\s+(?<project>\S+\.csproj)")]
    private static partial Regex PublishCommand();
}

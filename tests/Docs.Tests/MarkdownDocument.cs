using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Docs.Tests;

/// <summary>How CI treats a command block: the marker line directly above its opening fence.</summary>
internal enum CommandRun
{
    /// <summary>No marker, or one that is not understood: the block fails the marker spec.</summary>
    Unmarked,

    /// <summary><c>&lt;!-- ci: embedded --&gt;</c>: run against an embedded host the spec has started.</summary>
    Embedded,

    /// <summary><c>&lt;!-- ci: run --&gt;</c>: run as is, with the servers of <c>infra.sh up</c> and their settings.</summary>
    Run,

    /// <summary><c>&lt;!-- ci: skip — reason --&gt;</c>: not run, for the reason given.</summary>
    Skip,
}

/// <summary>One fenced <c>bash</c>/<c>sh</c>/<c>shell</c> block: where it is, its text and how CI runs it.</summary>
internal sealed record CommandBlock(string File, int Line, string Text, CommandRun Run, string? Marker)
{
    public string Where => $"{File}:{Line}";
}

/// <summary>A markdown file of the repository, read just far enough to find its command blocks and relative links.</summary>
internal sealed partial class MarkdownDocument
{
    private static readonly HashSet<string> ShellInfoStrings = new(StringComparer.OrdinalIgnoreCase) { "bash", "sh", "shell" };

    private MarkdownDocument(string relativePath, string[] lines)
    {
        RelativePath = relativePath;
        Lines = lines;
    }

    /// <summary>Path from the repository root, with '/' separators, e.g. <c>docs/configuration.md</c>.</summary>
    public string RelativePath { get; }

    public string[] Lines { get; }

    /// <summary>README.md and every docs/*.md: the documents a reader is sent to.</summary>
    public static IReadOnlyList<MarkdownDocument> All()
    {
        var root = RepositoryLayout.Root;
        var paths = new List<string> { Path.Combine(root, "README.md") };
        var docs = Path.Combine(root, "docs");
        if (Directory.Exists(docs))
        {
            paths.AddRange(Directory.GetFiles(docs, "*.md").Order(StringComparer.Ordinal));
        }

        return [.. paths.Select(Load)];
    }

    public static MarkdownDocument Load(string path) =>
        new(Path.GetRelativePath(RepositoryLayout.Root, path).Replace('\\', '/'), File.ReadAllLines(path));

    /// <summary>Reads <paramref name="text"/> as if it were the file <paramref name="relativePath"/>: for specs of the checks themselves.</summary>
    public static MarkdownDocument FromText(string relativePath, string text) => new(relativePath, text.Split('\n'));

    /// <summary>The fenced blocks whose info string is bash, sh or shell, in order, with the marker above each.</summary>
    public IReadOnlyList<CommandBlock> CommandBlocks()
    {
        var blocks = new List<CommandBlock>();
        foreach (var fence in Fences())
        {
            if (!ShellInfoStrings.Contains(fence.Info))
            {
                continue;
            }

            var (run, marker) = fence.OpeningLine > 0 ? ReadMarker(Lines[fence.OpeningLine - 1]) : (CommandRun.Unmarked, null);
            blocks.Add(new CommandBlock(RelativePath, fence.OpeningLine + 1, fence.Text, run, marker));
        }

        return blocks;
    }

    /// <summary>Targets of inline links and images outside code: <c>[text](target)</c>, with the line they are on.</summary>
    public IReadOnlyList<(int Line, string Target)> Links()
    {
        var insideFence = new bool[Lines.Length];
        foreach (var fence in Fences())
        {
            for (var i = fence.OpeningLine; i <= fence.ClosingLine && i < Lines.Length; i++)
            {
                insideFence[i] = true;
            }
        }

        var links = new List<(int, string)>();
        for (var i = 0; i < Lines.Length; i++)
        {
            if (insideFence[i])
            {
                continue;
            }

            // Code spans are not links: `[x](y)` inside backticks is text about markdown.
            var line = CodeSpan().Replace(Lines[i], "");
            foreach (Match link in InlineLink().Matches(line))
            {
                links.Add((i + 1, link.Groups["target"].Value));
            }
        }

        return links;
    }

    private static (CommandRun, string?) ReadMarker(string line)
    {
        var marker = Marker().Match(line.Trim());
        if (!marker.Success)
        {
            return (CommandRun.Unmarked, null);
        }

        var text = line.Trim();
        return marker.Groups["kind"].Value switch
        {
            "embedded" when marker.Groups["reason"].Length == 0 => (CommandRun.Embedded, text),
            "run" when marker.Groups["reason"].Length == 0 => (CommandRun.Run, text),
            // A skip must say why, or nobody can tell whether the block still needs to be skipped.
            "skip" when marker.Groups["reason"].Value.Trim().Length > 0 => (CommandRun.Skip, text),
            _ => (CommandRun.Unmarked, text),
        };
    }

    private IEnumerable<(int OpeningLine, int ClosingLine, string Info, string Text)> Fences()
    {
        for (var i = 0; i < Lines.Length; i++)
        {
            var opening = FenceOpening().Match(Lines[i]);
            if (!opening.Success)
            {
                continue;
            }

            var indent = opening.Groups["indent"].Value.Length;
            var fence = opening.Groups["fence"].Value;
            var body = new List<string>();
            var close = i + 1;
            while (close < Lines.Length && !IsClosing(Lines[close], fence))
            {
                // A block inside a list item is indented with it: its commands are the lines without that indent.
                var content = Lines[close];
                var strip = Math.Min(indent, content.Length - content.TrimStart(' ').Length);
                body.Add(content[strip..].TrimEnd('\r'));
                close++;
            }

            yield return (i, close, opening.Groups["info"].Value, string.Join('\n', body));
            i = close;
        }
    }

    private static bool IsClosing(string line, string fence)
    {
        var trimmed = line.Trim();
        return trimmed.Length >= fence.Length && trimmed.All(c => c == fence[0]);
    }

    [GeneratedRegex(@"^(?<indent> *)(?<fence>`{3,}|~{3,})\s*(?<info>[^\s`]*)")]
    private static partial Regex FenceOpening();

    [GeneratedRegex(@"^<!--\s*ci:\s*(?<kind>embedded|run|skip)\b\s*(?:(?:—|–|-{1,2})\s*(?<reason>.*?))?\s*-->$")]
    private static partial Regex Marker();

    [GeneratedRegex(@"`+[^`]*`+")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"!?\[[^\]]*\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();
}

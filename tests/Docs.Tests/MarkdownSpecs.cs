using EventBackbone.TestInfrastructure;

namespace EventBackbone.Docs.Tests;

/// <summary>What can be checked in README.md and docs/*.md without running anything.</summary>
[Trait("Tier", "Fast")]
public sealed class MarkdownSpecs
{
    [Fact]
    public void Every_command_block_says_how_CI_runs_it()
    {
        var unmarked = MarkdownDocument.All().SelectMany(document => document.CommandBlocks()).Where(block => block.Run == CommandRun.Unmarked)
            .Select(Unmarked).ToList();

        Assert.True(unmarked.Count == 0, string.Join('\n', unmarked));
    }

    [Fact]
    public void A_block_without_a_marker_or_with_a_skip_without_a_reason_is_refused()
    {
        var document = MarkdownDocument.FromText("docs/example.md", string.Join('\n',
            "<!-- ci: embedded -->", "```bash", "curl -fsS http://127.0.0.1:5080/health/ready", "```",
            "<!-- ci: skip -->", "```sh", "dotnet run --project src/Embedded", "```",
            "Text, no marker:", "```shell", "echo hi", "```",
            "<!-- ci: skip — starts a long-running host -->", "```bash", "dotnet run --project src/Embedded", "```",
            "```csharp", "var notACommand = 1;", "```"));

        var blocks = document.CommandBlocks();

        Assert.Equal(
            [(2, CommandRun.Embedded), (6, CommandRun.Unmarked), (10, CommandRun.Unmarked), (14, CommandRun.Skip)],
            blocks.Select(x => (x.Line, x.Run)));
        Assert.Equal("curl -fsS http://127.0.0.1:5080/health/ready", blocks[0].Text);
    }

    [Fact]
    public void Every_relative_link_points_at_a_file_of_the_repository()
    {
        var broken = new List<string>();
        foreach (var document in MarkdownDocument.All())
        {
            var folder = Path.GetDirectoryName(Path.Combine(RepositoryLayout.Root, document.RelativePath))!;
            foreach (var (line, target) in document.Links())
            {
                if (target.StartsWith('#') || target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var path = Uri.UnescapeDataString(target.Split('#')[0]);
                var resolved = Path.GetFullPath(Path.Combine(path.StartsWith('/') ? RepositoryLayout.Root : folder, path.TrimStart('/')));
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    broken.Add($"{document.RelativePath}:{line} links to {target}, which does not exist");
                }
            }
        }

        Assert.True(broken.Count == 0, string.Join('\n', broken));
    }

    private static string Unmarked(CommandBlock block) =>
        block.Marker is null
            ? $"{block.Where}: no marker line directly above this block; put <!-- ci: embedded -->, <!-- ci: run --> or <!-- ci: skip — reason --> there:\n{block.Text}"
            : $"{block.Where}: '{block.Marker}' is not a marker CI understands (a skip needs a reason: <!-- ci: skip — reason -->):\n{block.Text}";
}

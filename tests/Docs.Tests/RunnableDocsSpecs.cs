using System.Diagnostics;
using System.Text;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Docs.Tests;

/// <summary>
/// The command blocks of README.md and docs/*.md, run as a reader would: <c>embedded</c> blocks against an embedded host
/// this spec starts (one per document, the blocks in order, so a later block may use what an earlier one did), <c>run</c>
/// blocks with the settings of <c>infra.sh env</c>. Each with <c>bash -euo pipefail -c</c> from the repository root.
/// </summary>
[Trait("Tier", "EndToEnd")]
public sealed class RunnableDocsSpecs
{
    /// <summary>What the docs call the embedded host; each block is pointed at the host started here instead.</summary>
    private static readonly string[] DocumentedEmbeddedAuthorities = ["127.0.0.1:5080", "localhost:5080"];

    /// <summary>
    /// Generous: a block may build and run a project (<c>dotnet run</c>), which on two cores under the suites' load takes
    /// minutes. The limit only stops a block that hangs; it is not a speed check.
    /// </summary>
    private static readonly TimeSpan BlockTimeout = TimeSpan.FromMinutes(10);

    public static TheoryData<string> DocumentsWithCommands()
    {
        var documents = new TheoryData<string>();
        foreach (var document in MarkdownDocument.All().Where(x => x.CommandBlocks().Count > 0))
        {
            documents.Add(document.RelativePath);
        }

        return documents;
    }

    [Theory]
    [MemberData(nameof(DocumentsWithCommands))]
    public async Task The_documents_commands_run(string relativePath)
    {
        var blocks = MarkdownDocument.Load(Path.Combine(RepositoryLayout.Root, relativePath)).CommandBlocks();
        var unmarked = blocks.Where(x => x.Run == CommandRun.Unmarked).Select(x => x.Where).ToList();
        Assert.True(unmarked.Count == 0, $"Blocks without a (valid) ci marker, so CI cannot tell how to run them: {string.Join(", ", unmarked)}");

        var failures = new List<string>();
        var embedded = blocks.Where(x => x.Run == CommandRun.Embedded).ToList();
        if (embedded.Count > 0)
        {
            await using var host = HostProcess.Start("Embedded", new Dictionary<string, string>());
            await host.WaitUntilReadyAsync(HostProcess.StartTimeout);
            var authority = host.BaseAddress.Authority;
            foreach (var block in embedded)
            {
                var text = DocumentedEmbeddedAuthorities.Aggregate(block.Text, (x, documented) => x.Replace(documented, authority, StringComparison.Ordinal));
                var result = await RunAsync(text, withInfrastructureSettings: false);
                if (result.ExitCode != 0)
                {
                    // Later blocks build on this one (a token, an id): their failures would only repeat it.
                    failures.Add(Describe(block, text, result) + $"\n{host.Logs}");
                    break;
                }
            }
        }

        foreach (var block in blocks.Where(x => x.Run == CommandRun.Run))
        {
            var result = await RunAsync(block.Text, withInfrastructureSettings: true);
            if (result.ExitCode != 0)
            {
                failures.Add(Describe(block, block.Text, result));
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    private static string Describe(CommandBlock block, string text, BlockResult result) =>
        $"{block.Where} ({block.Marker}) exited {result.ExitCode}:\n{text}\n----- stdout -----\n{result.Output}\n----- stderr -----\n{result.Errors}";

    private sealed record BlockResult(int ExitCode, string Output, string Errors);

    private static async Task<BlockResult> RunAsync(string text, bool withInfrastructureSettings)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryLayout.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-euo");
        start.ArgumentList.Add("pipefail");
        start.ArgumentList.Add("-c");
        // A run block gets the servers' settings as `eval "$(bash scripts/infra.sh env)"` gives them to a reader; an
        // embedded block gets none, so a setting of the test run cannot make a documented command pass or fail.
        start.ArgumentList.Add(withInfrastructureSettings ? $"eval \"$(bash scripts/infra.sh env)\"\n{text}" : text);
        foreach (var name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("Backbone__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(name);
            }
        }

        using var process = new Process { StartInfo = start };
        var output = new StringBuilder();
        var errors = new StringBuilder();
        process.OutputDataReceived += (_, line) => Append(output, line.Data);
        process.ErrorDataReceived += (_, line) => Append(errors, line.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(BlockTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Append(errors, $"(stopped: still running after {BlockTimeout.TotalMinutes} min)");
            return new BlockResult(-1, Read(output), Read(errors));
        }

        // WaitForExitAsync returns once the redirected streams are drained too.
        return new BlockResult(process.ExitCode, Read(output), Read(errors));
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    private static string Read(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }
}

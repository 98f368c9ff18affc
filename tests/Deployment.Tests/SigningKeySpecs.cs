using System.Diagnostics;
using System.Text.RegularExpressions;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// A signing key written anywhere in the repository is known to everyone who has read it, and with it anyone can mint
/// a token with every scope. So every one of them has to be refused by a host outside embedded mode: a key added later
/// (a test's, a bench's, a manifest's, a README example) fails here until it is refused, or generated at run time.
/// </summary>
public sealed partial class SigningKeySpecs
{
    /// <summary>The refusal the hosts' own settings code gives <paramref name="value"/> as <paramref name="setting"/>, or null when it accepts it.</summary>
    internal static InvalidSettingException? RefusalOutsideEmbeddedMode(string setting, string value)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [setting] = value })
            .Build();
        try
        {
            BackboneAuthSettings.Load(configuration, embedded: false);
            return null;
        }
        catch (InvalidSettingException refused)
        {
            return refused;
        }
    }

    [Fact]
    public void Every_signing_key_written_in_the_repository_is_refused_outside_embedded_mode()
    {
        var found = TrackedTextFiles().SelectMany(path => SigningKeyValues(path, Repository.ReadText(path))).ToList();

        // The scan has to see the keys known to be there, or a change to its patterns would make it pass on nothing.
        foreach (var expected in new[] { "compose/.env.example", "compose/k8s/21-secrets.yaml", "src/Embedded/appsettings.json" })
        {
            Assert.True(found.Any(x => x.Path == expected), $"No signing key was found in {expected}; the scan no longer reads it.");
        }

        var problems = new Problems();
        foreach (var (path, line, value) in found)
        {
            problems.Check(
                RefusalOutsideEmbeddedMode("Backbone:Auth:SigningKeys:0", value) is not null,
                $"{path}:{line}: a signing key a host outside embedded mode accepts. Generate a test's key at run time "
                + "(TestSigningKey.Generate()); a key that must be written down has to be refused "
                + "(a placeholder word in it, or its SHA-256 in ServiceDefaults' PublicSigningKeys).");
        }

        problems.AssertNone();
    }

    // Every sample value says "example": this file is scanned too, and a sample the hosts accepted would be a public key.
    [Theory]
    [InlineData("x.yaml", "    Backbone__Auth__SigningKeys__0: example-abcdefghijklmnopqrstuvwxyz", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.env", "AUTH_SIGNING_KEY=example-abcdefghijklmnopqrstuvwxyz", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.md", "export Backbone__Auth__SigningKeys__1='example-abcdefghijklmnopqrstuvwxyz'", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.json", "\"SigningKeys\": [\n  \"first-example-abcdefghijklmnopqrstuvwxyz\",\n  \"second-example-abcdefghijklmnopqrstuvwxyz\"\n]", "first-example-abcdefghijklmnopqrstuvwxyz|second-example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.yaml", "SigningKeys:\n  - example-abcdefghijklmnopqrstuvwxyz\n  - \"example-zyxwvutsrqponmlkjihgfedcba\"\nOther: 1", "example-abcdefghijklmnopqrstuvwxyz|example-zyxwvutsrqponmlkjihgfedcba")]
    [InlineData("x.cs", "const string SigningKey = \"example-abcdefghijklmnopqrstuvwxyz\";", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.cs", "[\"Backbone:Auth:SigningKeys:0\"] = \"example-abcdefghijklmnopqrstuvwxyz\",", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.cs", "builder.UseSetting(\"Backbone:Auth:SigningKeys:0\", \"example-abcdefghijklmnopqrstuvwxyz\");", "example-abcdefghijklmnopqrstuvwxyz")]
    [InlineData("x.cs", "[\"Backbone:Auth:SigningKeys:0\"] = SigningKey, // an identifier, not a key", "")]
    public void The_scan_finds_a_key_in_every_way_the_repository_writes_one(string path, string text, string expected)
    {
        var values = SigningKeyValues(path, text).Select(x => x.Value).ToList();

        Assert.Equal(expected.Split('|', StringSplitOptions.RemoveEmptyEntries), values);
    }

    /// <summary>
    /// The values given to a signing-key setting or variable (<c>SigningKeys:0</c>, <c>Backbone__Auth__SigningKeys__0</c>,
    /// <c>AUTH_SIGNING_KEY</c>, a <c>SigningKey</c> constant), as <c>name: value</c>, <c>name=value</c>,
    /// <c>["name"] = "value"</c>, <c>("name", "value")</c>, a JSON array or a YAML list. In C# only string literals count:
    /// an identifier there is a reference to a key, not one.
    /// </summary>
    internal static IEnumerable<(string Path, int Line, string Value)> SigningKeyValues(string path, string text)
    {
        var csharp = Path.GetExtension(path).Equals(".cs", StringComparison.OrdinalIgnoreCase);
        int LineOf(int index) => text.AsSpan(0, index).Count('\n') + 1;

        foreach (Match match in Assignment().Matches(text))
        {
            var value = match.Groups["quoted"].Success ? match.Groups["quoted"] : csharp ? null : match.Groups["bare"];
            if (value is { Success: true, Length: > 0 })
            {
                yield return (path, LineOf(value.Index), value.Value);
            }
        }

        foreach (Match list in JsonArray().Matches(text).Concat(YamlList().Matches(text)))
        {
            foreach (Match item in ListItem().Matches(list.Groups["items"].Value))
            {
                var value = item.Groups["quoted"].Success ? item.Groups["quoted"] : item.Groups["bare"];
                yield return (path, LineOf(list.Groups["items"].Index + value.Index), value.Value);
            }
        }
    }

    /// <summary>
    /// What git tracks: an untracked compose/.env holding a developer's real key is none of the repository's business,
    /// and a stale file in bin/ must not count.
    /// </summary>
    private static IEnumerable<string> TrackedTextFiles()
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "ls-files", "-z" })
        {
            start.ArgumentList.Add(argument);
        }

        using var git = Process.Start(start) ?? throw new InvalidOperationException("git could not be started.");
        var output = git.StandardOutput.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git ls-files exited with {git.ExitCode} in {Repository.Root}.");

        var files = output.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(path => File.Exists(Repository.FullPath(path)))
            .ToList();
        Assert.True(files.Count > 100, $"git ls-files listed only {files.Count} files in {Repository.Root}.");

        // A binary file (a NUL in its first bytes, as git itself decides) is not where a key is written.
        return files.Where(path =>
        {
            var bytes = File.ReadAllBytes(Repository.FullPath(path));
            return !bytes.AsSpan(0, Math.Min(8000, bytes.Length)).Contains((byte)0);
        });
    }

    // A signing-key name, its closing quote/bracket, a separator, then the value: quoted, or bare up to a delimiter.
    [GeneratedRegex("""(?i)signing[_-]?keys?(?:(?:__|:)\d+)?['"]?\]?[ \t]*(?:=|:|,)[ \t]*(?:"(?<quoted>[^"\r\n]*)"|'(?<quoted>[^'\r\n]*)'|(?<bare>[^\s"'`,;\[\](){}#|]+))""")]
    private static partial Regex Assignment();

    [GeneratedRegex("""(?i)"signingkeys"\s*:\s*\[(?<items>[^\]]*)\]""")]
    private static partial Regex JsonArray();

    [GeneratedRegex("""(?im)signingkeys:[ \t]*\r?\n(?<items>(?:[ \t]*-[ \t]*[^\r\n]+\r?\n?)+)""")]
    private static partial Regex YamlList();

    [GeneratedRegex("""(?m)(?:^[ \t]*-[ \t]*)?(?:"(?<quoted>[^"\r\n]*)"|'(?<quoted>[^'\r\n]*)'|(?<bare>(?<=^[ \t]*-[ \t]*)[^\s"',#]+))""")]
    private static partial Regex ListItem();
}

using EventBackbone.TestInfrastructure;

namespace EventBackbone.Docs.Tests;

/// <summary>
/// docs/configuration.md against the settings src/ reads, both ways: an operator must find every setting there, and
/// must not be told about one that does nothing.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class ConfigurationTableSpecs
{
    private static readonly IReadOnlyList<SettingInCode> Code = SettingsInCode.Scan();

    private static MarkdownDocument Table() =>
        MarkdownDocument.Load(Path.Combine(RepositoryLayout.Root, ConfigurationReference.RelativePath));

    [Fact]
    public void Every_setting_the_code_reads_has_a_row_in_the_configuration_table()
    {
        var missing = SettingsDrift.MissingFromTable(Code, ConfigurationReference.Rows(Table()));

        Assert.True(missing.Count == 0, string.Join('\n', missing));
    }

    [Fact]
    public void Every_row_of_the_configuration_table_is_a_setting_the_code_reads()
    {
        var unread = SettingsDrift.UnreadRows(Code, ConfigurationReference.Rows(Table()));

        Assert.True(unread.Count == 0, string.Join('\n', unread));
    }

    [Fact]
    public void Each_setting_has_one_row()
    {
        var duplicates = SettingsDrift.DuplicateRows(ConfigurationReference.Rows(Table()));

        Assert.True(duplicates.Count == 0, string.Join('\n', duplicates));
    }

    [Fact]
    public void The_scan_finds_settings_read_through_constants_locals_lists_and_parameters()
    {
        // One of each way src/ names a key; if the scan stopped seeing one, the table check would pass on a blind spot.
        var keys = Code.Select(x => x.Key).ToHashSet(StringComparer.Ordinal);

        Assert.Contains("Backbone:Transport", keys);                        // a public const
        Assert.Contains("Backbone:Auth:Issuer", keys);                      // $"{Section}:Issuer"
        Assert.Contains("Backbone:Ingestion:Sources:*:Scheme", keys);       // var prefix = $"…:{section.Key}"
        Assert.Contains("Backbone:Workers:Modules", keys);                  // $"…:Modules:{index}", a list
        Assert.Contains("Backbone:Ingestion:TrustedProxies", keys);         // settings.Networks("…"), a list
        Assert.Contains("ConnectionStrings:Workers", keys);                 // $"ConnectionStrings:{service}", service = WorkersComposition.DatabaseName
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT", keys);               // configuration["…"]
        Assert.DoesNotContain("Backbone:Auth", keys);                       // a section, not a setting
    }

    [Fact]
    public void A_setting_without_a_row_is_named_with_where_the_code_reads_it()
    {
        var table = Table();
        var withoutTransport = MarkdownDocument.FromText(
            table.RelativePath, string.Join('\n', table.Lines.Where(line => !line.StartsWith("| `Backbone:Transport`", StringComparison.Ordinal))));

        var missing = SettingsDrift.MissingFromTable(Code, ConfigurationReference.Rows(withoutTransport));

        Assert.Contains(missing, message => message.StartsWith("`Backbone:Transport` is read by the code (src/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_row_that_no_code_reads_is_named_with_its_line()
    {
        var table = Table();
        var withBogusRow = MarkdownDocument.FromText(
            table.RelativePath, string.Join('\n', table.Lines.Append("| `Backbone:Ingestion:Turbo` | `false` | Ingestion.Api | goes faster |")));

        var unread = SettingsDrift.UnreadRows(Code, ConfigurationReference.Rows(withBogusRow));

        Assert.Contains($"docs/configuration.md:{table.Lines.Length + 1} documents `Backbone:Ingestion:Turbo`, which no code in src/ reads", unread);
    }
}

using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Tests;

public sealed class OutputSpecs
{
    [Theory]
    [InlineData("urn:message:EventBackbone.Contracts:OrderSubmitted", "OrderSubmitted")]
    [InlineData("urn:message:Shop:OrderSubmitted;urn:message:Shop:IOrderEvent", "OrderSubmitted")]
    [InlineData("System.InvalidOperationException", "InvalidOperationException")]
    [InlineData("Shop.Outer+Inner", "Inner")]
    [InlineData("Plain", "Plain")]
    [InlineData(null, "-")]
    public void A_type_is_shown_by_its_short_name(string? name, string expected) =>
        Assert.Equal(expected, Cells.ShortTypeName(name));

    [Fact]
    public void A_long_or_multi_line_cell_becomes_one_cut_line()
    {
        Assert.Equal("line one…", Cells.Truncate("line one\nline two", 9));
        Assert.Equal("short", Cells.Truncate("short", 9));
    }

    [Fact]
    public void Table_columns_are_as_wide_as_their_widest_cell()
    {
        using var output = new StringWriter();
        new TextTable().Column("A").Column("B").Row("long value", "x").Row("s", "y").Write(output);

        Assert.Equal("A           B\nlong value  x\ns           y\n", output.ToString().ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(0, 40, "Replaying [--------------------] 0/40")]
    [InlineData(12, 40, "Replaying [######--------------] 12/40")]
    [InlineData(40, 40, "Replaying [####################] 40/40")]
    [InlineData(0, 0, "Replaying [####################] 0/0")]
    public void The_bar_fills_in_proportion(int done, int total, string expected) =>
        Assert.Equal(expected, ReplayProgress.Render(done, total));

    [Fact]
    public void A_redrawn_bar_is_ended_with_a_newline_when_finished()
    {
        using var error = new StringWriter();
        var progress = new ReplayProgress(error, interactive: true, TimeProvider.System);
        progress.Report(new ReplayJob(Guid.NewGuid(), "running", 10, 5, 0, 0, 0, null, null, null));
        progress.Finish();

        // Compared raw: ReplaceLineEndings would read the \r itself as a line ending.
        Assert.Equal("\rReplaying [##########----------] 5/10" + Environment.NewLine, error.ToString());
    }

    [Fact]
    public void Json_is_indented_and_keeps_non_ascii_text_readable()
    {
        var pretty = JsonOutput.TryPretty("""{"name":"Zoë","n":1}""");

        Assert.Equal("{\n  \"name\": \"Zoë\",\n  \"n\": 1\n}", pretty?.ReplaceLineEndings("\n"));
        Assert.Null(JsonOutput.TryPretty("not json"));
    }
}

using System.Text;

namespace EventBackbone.Cli.Output;

/// <summary>Left-aligned columns separated by two spaces, each no wider than its limit.</summary>
public sealed class TextTable
{
    private readonly List<(string Header, int MaxWidth)> _columns = [];
    private readonly List<string[]> _rows = [];

    /// <param name="maxWidth">Longer cells are cut with an ellipsis; use <see cref="int.MaxValue"/> for values that must stay whole (ids).</param>
    public TextTable Column(string header, int maxWidth = int.MaxValue)
    {
        _columns.Add((header, maxWidth));
        return this;
    }

    public TextTable Row(params string?[] cells)
    {
        if (cells.Length != _columns.Count)
        {
            throw new ArgumentException($"The table has {_columns.Count} columns, the row {cells.Length} cells.", nameof(cells));
        }

        _rows.Add(cells.Select((cell, i) => Cells.Truncate(cell, _columns[i].MaxWidth)).ToArray());
        return this;
    }

    public int RowCount => _rows.Count;

    public void Write(TextWriter output)
    {
        var widths = _columns
            .Select((column, i) => _rows.Select(row => row[i].Length).Append(column.Header.Length).Max())
            .ToArray();
        WriteLine(output, _columns.Select(c => c.Header).ToArray(), widths);
        foreach (var row in _rows)
        {
            WriteLine(output, row, widths);
        }
    }

    private static void WriteLine(TextWriter output, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
        }

        output.WriteLine(line.ToString());
    }
}

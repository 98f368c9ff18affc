using EventBackbone.Cli.Api;

namespace EventBackbone.Cli.Output;

/// <summary>
/// The progress of a replay job on stderr, so stdout stays clean for scripts. On a terminal one bar is redrawn in
/// place; into a log file, a plain line at most once a second or whenever another tenth is done, so a long replay
/// neither floods the log nor goes silent.
/// </summary>
public sealed class ReplayProgress
{
    public const int BarWidth = 20;
    private static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(1);

    private readonly TextWriter _error;
    private readonly bool _interactive;
    private readonly TimeProvider _clock;
    private string? _lastText;
    private int _lastDecile = -1;
    private DateTimeOffset _lastLineAt = DateTimeOffset.MinValue;
    private int _drawnWidth;

    public ReplayProgress(TextWriter error, bool interactive, TimeProvider clock)
    {
        _error = error;
        _interactive = interactive;
        _clock = clock;
    }

    public static string Render(int done, int total)
    {
        var filled = total <= 0 ? BarWidth : (int)((long)Math.Min(done, total) * BarWidth / total);
        return $"Replaying [{new string('#', filled)}{new string('-', BarWidth - filled)}] {done}/{total}";
    }

    public void Report(ReplayJob job)
    {
        var text = Render(job.Done, job.Total);
        if (_interactive)
        {
            // Pad over the previous drawing: a shorter line would leave its tail on screen.
            _error.Write("\r" + text.PadRight(_drawnWidth));
            _drawnWidth = Math.Max(_drawnWidth, text.Length);
            _error.Flush();
            return;
        }

        var decile = job.Total <= 0 ? 10 : (int)((long)Math.Min(job.Done, job.Total) * 10 / job.Total);
        var now = _clock.GetUtcNow();
        if (text == _lastText || (decile == _lastDecile && now - _lastLineAt < LineInterval))
        {
            return;
        }

        _error.WriteLine(text);
        _lastText = text;
        _lastDecile = decile;
        _lastLineAt = now;
    }

    /// <summary>Ends the redrawn line, so whatever is printed next starts on a line of its own.</summary>
    public void Finish()
    {
        if (_interactive && _drawnWidth > 0)
        {
            _error.WriteLine();
            _error.Flush();
        }
    }
}

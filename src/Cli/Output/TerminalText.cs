using System.Text;

namespace EventBackbone.Cli.Output;

/// <summary>
/// Removes what would drive a terminal instead of being read on it: ESC sequences (CSI such as <c>ESC[2J</c>, which
/// clears the screen; OSC such as <c>ESC]0;…BEL</c>, which sets the title, writes the clipboard or makes links; DCS and
/// the other string sequences), their one-character C1 forms, and every other C0/C1 control except tab and newline. A
/// dead letter's fields are whatever a failing producer or a hostile caller wrote, and an operator reads them on a
/// terminal that holds a token: a field must not be able to repaint the screen, hide lines or answer back into the shell.
/// </summary>
/// <remarks>
/// One instance follows a stream of characters, so a sequence split across two writes is still removed whole. A string
/// sequence (OSC, DCS …) that never ends is cut at the end of the line, so a hostile field cannot swallow what follows.
/// </remarks>
internal sealed class TerminalText
{
    private const char Esc = '\u001b';
    private const char Bel = '\u0007';
    private const char Csi = '\u009b';
    private const char St = '\u009c';

    private State _state;

    private enum State
    {
        Text,
        Escape,
        EscapeIntermediate,
        ControlSequence,
        String,
        StringEscape,
    }

    /// <summary>A line of ours ends here: whatever a field left open does not reach into the next line.</summary>
    public void EndLine() => _state = State.Text;

    public static string Strip(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        var output = new StringBuilder(text.Length);
        new TerminalText().Append(output, text);
        return output.ToString();
    }

    public void Append(StringBuilder output, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            Append(output, c);
        }
    }

    private void Append(StringBuilder output, char c)
    {
        switch (_state)
        {
            case State.Escape:
                _state = c switch
                {
                    '[' => State.ControlSequence,
                    ']' or 'P' or 'X' or '^' or '_' => State.String,
                    >= ' ' and <= '/' => State.EscapeIntermediate,
                    // ESC and one final character (ESC c resets the terminal): both dropped.
                    _ => State.Text,
                };
                return;
            case State.EscapeIntermediate:
                // ESC ( B and the like: intermediates, then one final character.
                _state = c is >= ' ' and <= '/' ? State.EscapeIntermediate : State.Text;
                return;
            case State.ControlSequence:
                // Parameters and intermediates (0x20–0x3F) until a final character (0x40–0x7E); anything else ends it too.
                if (c is < ' ' or > '?')
                {
                    _state = State.Text;
                    if (c is < '@' or > '~')
                    {
                        Append(output, c);
                    }
                }

                return;
            case State.String:
                if (c == '\n')
                {
                    _state = State.Text;
                    output.Append(c);
                }
                else if (c is Bel or St)
                {
                    _state = State.Text;
                }
                else if (c == Esc)
                {
                    _state = State.StringEscape;
                }

                return;
            case State.StringEscape:
                // ESC \ is the string terminator; any other ESC ends the string and starts a sequence of its own.
                _state = State.Text;
                if (c != '\\')
                {
                    _state = State.Escape;
                    Append(output, c);
                }

                return;
            default:
                if (c == Esc)
                {
                    _state = State.Escape;
                }
                else if (c == Csi)
                {
                    _state = State.ControlSequence;
                }
                else if (c is '\u0090' or '\u0098' or '\u009d' or '\u009e' or '\u009f')
                {
                    _state = State.String;
                }
                else if (c is '\n' or '\t' || !(char.IsControl(c) || c == '\u007f'))
                {
                    output.Append(c);
                }

                // Any other control (CR, BS, BEL, C1 …) is dropped: CR or BS alone can overwrite what was printed.
                return;
        }
    }
}

/// <summary>A writer that passes only <see cref="TerminalText"/>-safe text to the terminal (or file) behind it.</summary>
internal sealed class TerminalSafeWriter(TextWriter inner) : TextWriter
{
    private readonly TerminalText _filter = new();
    private readonly StringBuilder _buffer = new();

    public override Encoding Encoding => inner.Encoding;

    public override IFormatProvider FormatProvider => inner.FormatProvider;

    public override void Write(char value) => Write([value], 0, 1);

    public override void Write(char[] buffer, int index, int count) => Pass(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> buffer) => Pass(buffer);

    public override void Write(string? value) => Pass(value);

    public override void WriteLine(string? value)
    {
        Pass(value);
        WriteLine();
    }

    public override void WriteLine()
    {
        // Our own line ending, not the data's: it is written as it is.
        _filter.EndLine();
        inner.Write(CoreNewLine);
    }

    public override void Flush() => inner.Flush();

    private void Pass(ReadOnlySpan<char> text)
    {
        _buffer.Clear();
        _filter.Append(_buffer, text);
        inner.Write(_buffer);
    }
}

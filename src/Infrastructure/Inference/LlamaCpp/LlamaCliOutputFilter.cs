using System.Text;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// Removes what llama-completion prints around the generated text on stdout: the " [end of text]" marker and the
/// blank lines it writes on exit. Text is passed on as soon as it cannot be the start of those, so streaming is held
/// back by a few characters at most.
/// </summary>
public sealed class LlamaCliOutputFilter
{
    public const string EndOfText = " [end of text]";

    private readonly StringBuilder _pending = new();
    private bool _ended;

    /// <summary>True once the end-of-text marker came: the model stopped by itself and all its text was written.</summary>
    public bool SawEndOfText => _ended;

    /// <summary>Adds output; returns the text that is certainly the model's. <paramref name="final"/> flushes at exit.</summary>
    public string Push(string text, bool final)
    {
        if (_ended)
        {
            return "";
        }

        _pending.Append(text);
        var buffer = _pending.ToString();
        var marker = buffer.IndexOf(EndOfText, StringComparison.Ordinal);
        if (marker >= 0)
        {
            _ended = true;
            _pending.Clear();
            return buffer[..marker].TrimEnd();
        }

        if (final)
        {
            _pending.Clear();
            return buffer.TrimEnd();
        }

        var keep = buffer.Length;
        for (var length = Math.Min(buffer.Length, EndOfText.Length - 1); length > 0; length--)
        {
            if (buffer.EndsWith(EndOfText[..length], StringComparison.Ordinal))
            {
                keep = buffer.Length - length;
                break;
            }
        }

        while (keep > 0 && char.IsWhiteSpace(buffer[keep - 1]))
        {
            keep--;
        }

        _pending.Remove(0, keep);
        return buffer[..keep];
    }
}

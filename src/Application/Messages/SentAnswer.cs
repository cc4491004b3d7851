using System.Text;

namespace MeatLizard.Application.Messages;

/// <summary>
/// What a client that cannot take back what it was sent (an OpenAI stream) has been sent of one answer, across the
/// request's attempts. Words of the first attempt are sent as they come. When a host stops mid-answer another attempt
/// writes the answer again — from the start the clients were shown, when its engine can continue one
/// (<see cref="Domain.Relay.RelayRequest.AnswerStart"/>), else from the beginning: its text is matched against what was
/// sent, and only what goes beyond it is sent, so the client reads one answer that goes on. An attempt whose text
/// parts from what was sent is not sent at all; the caller ends the stream once it has the stored answer.
/// </summary>
public sealed class SentAnswer
{
    private readonly StringBuilder _sent = new();
    private StringBuilder? _again;

    /// <summary>Everything sent so far.</summary>
    public string Text => _sent.ToString();

    /// <summary>Whether an attempt started the answer again after some of it was sent.</summary>
    public bool StartedOver { get; private set; }

    /// <summary>Whether the attempt under way wrote something other than what was sent: nothing more of it is sent.</summary>
    public bool PartedFrom { get; private set; }

    /// <summary>The words of the attempt under way; returns what of them is new to the client (empty: nothing to send).</summary>
    public string Take(string words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (_again is null)
        {
            _sent.Append(words);
            return words;
        }

        if (PartedFrom)
        {
            return "";
        }

        var checkedUpTo = _again.Length;
        _again.Append(words);
        for (var i = checkedUpTo; i < Math.Min(_again.Length, _sent.Length); i++)
        {
            if (_again[i] != _sent[i])
            {
                PartedFrom = true;
                return "";
            }
        }

        if (_again.Length <= _sent.Length)
        {
            return "";
        }

        var fresh = _again.ToString(_sent.Length, _again.Length - _sent.Length);
        _sent.Append(fresh);
        return fresh;
    }

    /// <summary>Another attempt writes the answer again: its words are matched against what was sent.</summary>
    public void StartOver()
    {
        if (_sent.Length == 0)
        {
            return; // nothing was sent: the next attempt's words are sent as the first's would have been
        }

        StartedOver = true;
        PartedFrom = false;
        _again = new StringBuilder();
    }

    /// <summary>
    /// What of the stored answer <paramref name="content"/> is still to send: the rest after what was sent; null when
    /// it does not go on from what was sent.
    /// </summary>
    public string? RestOf(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var sent = Text;
        return content.StartsWith(sent, StringComparison.Ordinal) ? content[sent.Length..] : null;
    }
}

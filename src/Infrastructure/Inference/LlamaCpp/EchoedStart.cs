using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// Takes out the start of an answer that llama-server gives back in front of what it writes after it. A prefilled
/// answer (<see cref="InferenceRequest.StartToContinue"/>, already given as the answer's first piece) comes back from
/// the pinned build with the prefill first (streamed too: its first delta is the prefill and the first new token);
/// other builds send only what they write. The text is held until it is known which: once it goes beyond the start and
/// begins with it, the start is dropped; once it parts from the start, nothing was echoed and all of it goes on.
/// </summary>
internal sealed class EchoedStart(string start)
{
    private string _held = "";
    private bool _decided;

    /// <summary>What of <paramref name="delta"/> is the engine's own writing (null: nothing yet).</summary>
    public InferenceDelta? Pass(InferenceDelta delta)
    {
        if (_decided)
        {
            return delta;
        }

        _held += delta.Text;
        if (_held.Length <= start.Length && start.StartsWith(_held, StringComparison.Ordinal))
        {
            return null; // still the start: wait to see if it goes on from it
        }

        _decided = true;
        var own = _held.StartsWith(start, StringComparison.Ordinal) ? _held[start.Length..] : _held;
        _held = "";
        return own.Length == 0 ? null : delta with { Text = own };
    }

    /// <summary>At the end: what was held that was not the start (null when all of it was).</summary>
    public InferenceDelta? Rest()
    {
        if (_decided || _held.Length == 0 || start.StartsWith(_held, StringComparison.Ordinal))
        {
            return null;
        }

        _decided = true;
        return new InferenceDelta(_held, 0);
    }
}

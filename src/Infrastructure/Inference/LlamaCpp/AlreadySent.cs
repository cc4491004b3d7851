namespace MeatLizard.Infrastructure.Inference.LlamaCpp;

/// <summary>
/// What a rerun of the same prompt and seed adds to the text an earlier run already streamed. The rerun's text is
/// held until it is known to start with exactly what was sent, so nothing is sent twice; once it parts from it, the
/// rerun is not the same answer (<see cref="Differs"/>) and none of it may go on.
/// </summary>
internal sealed class AlreadySent(string sent)
{
    private string _held = "";
    private bool _passed;

    /// <summary>True once the rerun wrote something other than what was sent.</summary>
    public bool Differs { get; private set; }

    /// <summary>What of <paramref name="text"/> comes after what was sent ("" when nothing yet or it differs).</summary>
    public string Pass(string text)
    {
        if (_passed)
        {
            return text;
        }

        if (Differs)
        {
            return "";
        }

        _held += text;
        if (_held.Length <= sent.Length)
        {
            Differs = !sent.StartsWith(_held, StringComparison.Ordinal);
            return "";
        }

        if (!_held.StartsWith(sent, StringComparison.Ordinal))
        {
            Differs = true;
            return "";
        }

        _passed = true;
        var fresh = _held[sent.Length..];
        _held = "";
        return fresh;
    }

    /// <summary>At the rerun's end: true when it wrote at least all that was sent.</summary>
    public bool Covered() => !Differs && (_passed || _held == sent);
}

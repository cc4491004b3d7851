namespace MeatLizard.Bench;

/// <summary>
/// The targets a benchmark judges and what they make of its exit status: a target NOT met exits 1, as a failed or
/// unsent request does. <c>--no-verdict</c> only measures: the figures are printed, the targets are not judged and do
/// not change the exit status (a failed or unsent request still does: those figures would not be a measurement).
/// </summary>
internal sealed class Verdicts
{
    public const string NoVerdictOption = "--no-verdict";

    private readonly List<string> _notMet = [];

    private Verdicts(bool judged) => Judged = judged;

    /// <summary>False with <c>--no-verdict</c>.</summary>
    public bool Judged { get; }

    /// <summary>The verdicts asked for by <paramref name="args"/>, and the arguments without the flag.</summary>
    public static (Verdicts Verdicts, string[] Arguments) Parse(string[] args) =>
        (new Verdicts(!args.Contains(NoVerdictOption)), [.. args.Where(a => a != NoVerdictOption)]);

    /// <summary>Records whether <paramref name="target"/> was met; the word to print after the figure.</summary>
    public string Judge(string target, bool met)
    {
        if (!Judged)
        {
            return "not judged";
        }

        if (!met)
        {
            _notMet.Add(target);
        }

        return met ? "met" : "NOT met";
    }

    /// <summary>
    /// As <see cref="Judge(string, bool)"/> for a figure of a run: a figure meets its target only when every request of
    /// the run was sent and answered (failures and unsent messages are not averaged away). The caller compares
    /// unrounded figures (999.5/s is below 1,000/s).
    /// </summary>
    public string Judge(string target, LoadRun run, bool met) =>
        Judge(target, met && run.Failures + run.NotSent == 0) switch
        {
            "NOT met" when run.Failures + run.NotSent > 0 => $"NOT met, {run.Unanswered}",
            var word => word,
        };

    /// <summary>Prints which targets were not met (or that none were judged) and returns the exit status.</summary>
    public int ExitStatus(bool requestsFailed)
    {
        if (!Judged)
        {
            Console.WriteLine($"Targets not judged ({NoVerdictOption}): the exit status says only whether every request was answered.");
        }
        else if (_notMet.Count > 0)
        {
            Console.WriteLine($"Targets NOT met: {string.Join("; ", _notMet)}.");
        }

        return requestsFailed || _notMet.Count > 0 ? 1 : 0;
    }
}

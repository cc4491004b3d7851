using System.Collections.Concurrent;
using System.Globalization;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>
/// The rows the fault tests measured, written when the suite ends as a Markdown table (reliability.md in the test's
/// output folder; ./test.sh prints it) — the table docs/reliability.md keeps.
/// </summary>
public static class ReliabilityTable
{
    private static readonly ConcurrentQueue<FaultOutcome> Rows = new();

    public static void Add(FaultOutcome outcome) => Rows.Enqueue(outcome);

    public static string Render()
    {
        var lines = new List<string>
        {
            "| fault | messages sent (2xx) | stored | answered by the model | answered by a notice | lost | duplicated | longest a chat was blocked | of it after sending | queue standing still |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        lines.AddRange(Rows.OrderBy(r => r.Fault, StringComparer.Ordinal).Select(r => string.Create(CultureInfo.InvariantCulture,
            $"| {r.Fault} | {r.Sent} | {r.Stored} | {r.AnsweredByModel} | {r.AnsweredByNotice} | {r.Lost} | {r.Duplicated} | {r.LongestBlocked.TotalSeconds:F1} s | {r.LongestAfterDispatch.TotalSeconds:F1} s | {r.LongestQueueStall.TotalSeconds:F1} s |")));
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }
}

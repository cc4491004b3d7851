using NUnit.Framework;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>When a finished request was created, last sent to a model host (if it was) and finished, in epoch seconds.</summary>
public sealed record RequestTimes(double Created, double? Dispatched, double Finished)
{
    /// <summary>
    /// The longest stretch during which some request waited to be sent to a host while no request was at a host: the
    /// queue standing still. Waiting behind busy slots is not counted; it is as long as the host is slow (24 requests
    /// on 4 slots take about 6 answers' time, several times that on a loaded machine), which no timeout bounds.
    /// </summary>
    public static TimeSpan LongestQueueStall(IReadOnlyList<RequestTimes> requests)
    {
        // Sweep the moments anything changes: +1 waiting at creation, waiting to working at dispatch, -1 working at
        // the finish (a request finished without being sent, by a notice, stops waiting then).
        var moments = new List<(double At, int Waiting, int Working)>();
        foreach (var r in requests)
        {
            moments.Add((r.Created, 1, 0));
            if (r.Dispatched is { } dispatched)
            {
                moments.Add((dispatched, -1, 1));
                moments.Add((Math.Max(dispatched, r.Finished), 0, -1));
            }
            else
            {
                moments.Add((r.Finished, -1, 0));
            }
        }

        var (waiting, working, stalledSince, longest) = (0, 0, (double?)null, 0.0);
        foreach (var group in moments.GroupBy(m => m.At).OrderBy(g => g.Key))
        {
            waiting += group.Sum(m => m.Waiting);
            working += group.Sum(m => m.Working);
            if (waiting > 0 && working == 0)
            {
                stalledSince ??= group.Key;
            }
            else if (stalledSince is { } since)
            {
                longest = Math.Max(longest, group.Key - since);
                stalledSince = null;
            }
        }

        return TimeSpan.FromSeconds(longest);
    }
}

/// <summary>
/// What a fault test measured: one row of docs/reliability.md. <paramref name="LongestBlocked"/>: the longest a request
/// kept its chat blocked (finished − created), queue included; <paramref name="LongestAfterDispatch"/>: the longest from
/// its (last) sending to a host to its finish, which the relay's timeouts bound; <paramref name="LongestQueueStall"/>:
/// see <see cref="RequestTimes.LongestQueueStall"/>.
/// </summary>
public sealed record FaultOutcome(
    string Fault, int Sent, int Stored, int AnsweredByModel, int AnsweredByNotice, int Lost, int Duplicated, int Unfinished,
    TimeSpan LongestBlocked, TimeSpan LongestAfterDispatch, TimeSpan LongestQueueStall, TimeSpan QueueWork)
{
    /// <summary>Each notice's request: its end, attempts and timeline (one line each).</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];

    /// <summary>
    /// Every answer is the model's. A failure names each notice's request last, after the processes' logs, so the tail
    /// of a long CI log still says why.
    /// </summary>
    public void AssertNoNotice(string why, string diagnostics) =>
        Assert.That(AnsweredByNotice, Is.Zero,
            $"{why}{Environment.NewLine}{diagnostics}{Environment.NewLine}{string.Join(Environment.NewLine, Notices)}");

    /// <summary>The checks every fault must pass; <paramref name="blockedAtMost"/> is what the configured timeouts allow.</summary>
    public void AssertNothingLost(TimeSpan blockedAtMost, string diagnostics)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Sent, Is.GreaterThanOrEqualTo(20), "at least 20 messages were accepted");
            Assert.That(Lost, Is.Zero, $"no accepted message is lost{Environment.NewLine}{diagnostics}");
            Assert.That(Duplicated, Is.Zero, "no message is stored or answered twice");
            Assert.That(Unfinished, Is.Zero, $"every request finished{Environment.NewLine}{diagnostics}");
            Assert.That(AnsweredByModel + AnsweredByNotice, Is.EqualTo(Stored), "every stored message has its one answer");
            // The timeouts bound what happens once a request is sent to a host, and how long a fault may keep the queue
            // from moving; not how long a request waits behind busy slots, which is as long as the host is slow.
            Assert.That(LongestAfterDispatch, Is.LessThanOrEqualTo(blockedAtMost),
                "no request stayed unanswered after its sending longer than the timeouts allow");
            Assert.That(LongestQueueStall, Is.LessThanOrEqualTo(blockedAtMost),
                "requests never waited while no host worked longer than the timeouts allow");
            // And from its creation: what the fault and the timeouts allow, plus the time the queue needs for the work
            // ahead of it — no request starved behind others served before it.
            Assert.That(LongestBlocked, Is.LessThanOrEqualTo(blockedAtMost + QueueWork),
                $"no chat stayed blocked longer than the fault and the timeouts allow plus the work ahead of it ({QueueWork.TotalSeconds:F1} s)");
        });
    }

    public override string ToString() =>
        $"{Fault}: sent {Sent}, stored {Stored}, model {AnsweredByModel}, notice {AnsweredByNotice}, lost {Lost}, " +
        $"duplicated {Duplicated}, unfinished {Unfinished}, longest blocked {LongestBlocked.TotalSeconds:F1} s " +
        $"(after sending {LongestAfterDispatch.TotalSeconds:F1} s, queue still {LongestQueueStall.TotalSeconds:F1} s, " +
        $"work ahead {QueueWork.TotalSeconds:F1} s)";
}

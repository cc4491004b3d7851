using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>The measure the fault tests bound the queue with: waiting behind busy slots is not a stall, an idle host is.</summary>
public sealed class QueueStallTests
{
    [Test]
    public void WaitingBehindBusySlots_IsNoStall()
    {
        // One slot: each request waits for the one before it, and the host works all along.
        var requests = new[]
        {
            new RequestTimes(0, 0, 10),
            new RequestTimes(0, 10, 20),
            new RequestTimes(0, 20, 30),
        };

        Assert.That(RequestTimes.LongestQueueStall(requests), Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void WaitingWhileNoHostWorks_IsTheStall()
    {
        // The first answer ends at 10; the next waits until 35 with nothing at a host (a dispatcher stuck for 25 s).
        var requests = new[]
        {
            new RequestTimes(0, 0, 10),
            new RequestTimes(0, 35, 40),
            new RequestTimes(36, 40, 45),
        };

        Assert.That(RequestTimes.LongestQueueStall(requests), Is.EqualTo(TimeSpan.FromSeconds(25)));
    }

    [Test]
    public void ARequestEndedByANoticeWithoutSending_StopsWaitingAtItsEnd()
    {
        var requests = new[] { new RequestTimes(5, null, 12) };

        Assert.That(RequestTimes.LongestQueueStall(requests), Is.EqualTo(TimeSpan.FromSeconds(7)));
    }
}

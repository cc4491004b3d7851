using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public sealed class HostRunsTests
{
    [Test]
    public void ANewRunOfAHostHeardBefore_IsNotedOnce_ForTheExpiryPassToRunAtOnce()
    {
        var runs = new HostRuns(new FakeClock());
        var host = Guid.NewGuid();
        var first = Guid.NewGuid();

        Assert.Multiple(() =>
        {
            Assert.That(runs.NoteBoot(host, first), Is.False, "the first run heard is no restart");
            Assert.That(runs.NoteBoot(host, first), Is.False, "the same run again");
            Assert.That(runs.NoteBoot(host, null), Is.False, "a heartbeat without a run id says nothing");
            Assert.That(runs.TakeRestartNoted(), Is.False);

            Assert.That(runs.NoteBoot(host, Guid.NewGuid()), Is.True, "a new run: it restarted");
            Assert.That(runs.TakeRestartNoted(), Is.True);
            Assert.That(runs.TakeRestartNoted(), Is.False, "taken once");
            Assert.That(runs.RestartedAt(host), Is.Not.Null);
        });
    }
}

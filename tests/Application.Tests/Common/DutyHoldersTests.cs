using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

/// <summary>Which lease holders are known to be gone, so their leases are taken over at once.</summary>
public sealed class DutyHoldersTests
{
    [Test]
    public void ARunOfThisProcessThatEnded_IsGone_ALiveOneIsNot()
    {
        var ended = DutyHolders.ThisRun();
        var live = DutyHolders.ThisRun();

        DutyHolders.Ended(ended);

        Assert.That(DutyHolders.DiedOnThisMachine(ended), Is.True, "a stopped host's leases need not be waited out");
        Assert.That(DutyHolders.DiedOnThisMachine(live), Is.False, "a run still going keeps its leases");
    }

    [Test]
    public void ADutyRunnerDisposedWithItsHost_EndsItsRun()
    {
        var runner = new DutyRunner(null!, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<DutyRunner>.Instance);
        Assert.That(DutyHolders.DiedOnThisMachine(runner.Holder), Is.False);

        runner.Dispose();

        Assert.That(DutyHolders.DiedOnThisMachine(runner.Holder), Is.True);
    }
}

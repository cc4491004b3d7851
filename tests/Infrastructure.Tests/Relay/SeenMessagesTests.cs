using MeatLizard.Infrastructure.Discord.Relay;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

/// <summary>Which of a Discord relay channel's messages count as seen, when Discord delivers them out of id order.</summary>
public sealed class SeenMessagesTests
{
    /// <summary>A snowflake <paramref name="ms"/> milliseconds after Discord's epoch, <paramref name="n"/>-th of its millisecond.</summary>
    private static ulong Id(ulong ms, ulong n = 0) => (ms << 22) | n;

    [Test]
    public void AMessageWithALowerId_ArrivingAfterAHigherOne_IsNew_AndEachIsSeenOnce()
    {
        var seen = new SeenMessages(0);

        Assert.That(seen.Note(Id(1000, 1)), Is.True);
        Assert.That(seen.Note(Id(1000, 0)), Is.True, "posted a moment before, delivered after");
        Assert.That(seen.Note(Id(999)), Is.True);
        Assert.That(seen.Note(Id(1000, 1)), Is.False, "delivered again (a resume)");
        Assert.That(seen.Note(Id(1000, 0)), Is.False);
    }

    [Test]
    public void BeyondWhatItRemembers_TheOldestIdsBecomeTheFloor_AndCountAsSeen()
    {
        var seen = new SeenMessages(0);
        for (ulong i = 1; i <= SeenMessages.Remembered + 2; i++)
        {
            Assert.That(seen.Note(Id(i)), Is.True);
        }

        Assert.That(seen.Floor, Is.EqualTo(Id(2)));
        Assert.That(seen.Note(Id(1)), Is.False);
        Assert.That(seen.Note(Id(2)), Is.False);
        Assert.That(seen.Note(Id(1, 1)), Is.False, "below the floor: counted as seen though never delivered");
        Assert.That(seen.Note(Id(3)), Is.False, "still remembered");
        Assert.That(seen.Note(Id(3, 1)), Is.True, "above the floor, never delivered");
    }

    [Test]
    public void APlaceAnEarlierRunStored_IsTheFloor()
    {
        var seen = new SeenMessages(Id(500));
        Assert.That(seen.Note(Id(500)), Is.False);
        Assert.That(seen.Note(Id(600)), Is.True);

        seen.RaiseFloor(Id(700));
        Assert.That(seen.Note(Id(650)), Is.False);
        Assert.That(seen.Note(Id(600)), Is.False);
        seen.RaiseFloor(Id(100));
        Assert.That(seen.Floor, Is.EqualTo(Id(700)), "never lowered");
    }

    [Test]
    public void ACatchUp_ReadsFromTheReorderWindowBeforeTheNewestSeen_NeverBelowTheFloor()
    {
        var window = (ulong)SeenMessages.ReorderWindow.TotalMilliseconds;
        var seen = new SeenMessages(Id(1000));
        Assert.That(seen.CatchUpFrom, Is.EqualTo(Id(1000)), "nothing seen: from the floor");

        seen.Note(Id(1000 + window + 5000));
        Assert.That(seen.CatchUpFrom, Is.EqualTo(Id(1000 + 5000)));

        seen.Note(Id(1000 + window + 4000));
        Assert.That(seen.CatchUpFrom, Is.EqualTo(Id(1000 + 5000)), "from the newest, whatever order they came in");

        var early = new SeenMessages(Id(1000));
        early.Note(Id(1500));
        Assert.That(early.CatchUpFrom, Is.EqualTo(Id(1000)));
    }
}

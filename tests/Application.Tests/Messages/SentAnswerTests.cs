using MeatLizard.Application.Messages;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

/// <summary>What an OpenAI stream sends of an answer whose host stopped mid-answer and another attempt wrote again.</summary>
public class SentAnswerTests
{
    [Test]
    public void TheFirstAttempt_IsSentAsItComes()
    {
        var sent = new SentAnswer();

        Assert.That(new[] { sent.Take("The sky"), sent.Take(" is") }, Is.EqualTo(new[] { "The sky", " is" }));
        Assert.That(sent.Text, Is.EqualTo("The sky is"));
        Assert.That(sent.StartedOver, Is.False);
    }

    [Test]
    public void AnAttemptThatGoesOnFromWhatWasSent_SendsOnlyWhatIsNew()
    {
        var sent = new SentAnswer();
        sent.Take("The sky is");
        sent.StartOver();

        Assert.That(sent.Take("The sky"), Is.Empty, "already sent");
        Assert.That(sent.Take(" is blue"), Is.EqualTo(" blue"));
        Assert.That(sent.Take("."), Is.EqualTo("."));
        Assert.That(sent.Text, Is.EqualTo("The sky is blue."));
        Assert.That(sent.PartedFrom, Is.False);
        Assert.That(sent.RestOf("The sky is blue. Rayleigh."), Is.EqualTo(" Rayleigh."));
    }

    [Test]
    public void AnAttemptThatWritesSomethingElse_SendsNothingMore_AndTheStoredAnswerIsNotTakenForARest()
    {
        var sent = new SentAnswer();
        sent.Take("The sky is");
        sent.StartOver();

        Assert.That(sent.Take("The sea"), Is.Empty);
        Assert.That(sent.Take(" is wide and deep"), Is.Empty, "parted from what was sent: nothing of it goes");
        Assert.That(sent.PartedFrom, Is.True);
        Assert.That(sent.StartedOver, Is.True);
        Assert.That(sent.RestOf("The sea is wide and deep"), Is.Null);
    }

    [Test]
    public void AThirdAttempt_IsMatchedAfresh()
    {
        var sent = new SentAnswer();
        sent.Take("one two");
        sent.StartOver();
        sent.Take("three");
        sent.StartOver();

        Assert.That(sent.PartedFrom, Is.False);
        Assert.That(sent.Take("one two three"), Is.EqualTo(" three"));
    }

    [Test]
    public void AStartOverBeforeAnythingWasSent_ChangesNothing()
    {
        var sent = new SentAnswer();
        sent.StartOver();

        Assert.That(sent.Take("Hello"), Is.EqualTo("Hello"));
        Assert.That(sent.StartedOver, Is.False);
    }
}

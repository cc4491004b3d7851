using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The start of a continued answer, taken out when llama-server sends it back in front of what it writes.</summary>
public sealed class EchoedStartTests
{
    [Test]
    public void AStartSentBack_InPieces_IsTakenOut()
    {
        var echo = new EchoedStart("one two three");

        Assert.That(echo.Pass(new InferenceDelta("one two", 1)), Is.Null);
        Assert.That(echo.Pass(new InferenceDelta(" three four", 1)), Is.EqualTo(new InferenceDelta(" four", 1)));
        Assert.That(echo.Pass(new InferenceDelta(" five", 1)), Is.EqualTo(new InferenceDelta(" five", 1)));
        Assert.That(echo.Rest(), Is.Null);
    }

    [Test]
    public void AStartSentBackExactly_ThenMore_GivesOnlyTheMore()
    {
        var echo = new EchoedStart("one");

        Assert.That(echo.Pass(new InferenceDelta("one", 1)), Is.Null);
        Assert.That(echo.Pass(new InferenceDelta(" two", 1)), Is.EqualTo(new InferenceDelta(" two", 1)));
    }

    [Test]
    public void AServerThatDoesNotSendTheStartBack_LosesNothing()
    {
        var echo = new EchoedStart("one two three");

        Assert.That(echo.Pass(new InferenceDelta(" four", 1)), Is.EqualTo(new InferenceDelta(" four", 1)));
        Assert.That(echo.Pass(new InferenceDelta(" five", 1)), Is.EqualTo(new InferenceDelta(" five", 1)));
    }

    [Test]
    public void WritingThatBeginsLikeTheStartButPartsFromIt_IsGivenWhole()
    {
        var echo = new EchoedStart("one two three");

        Assert.That(echo.Pass(new InferenceDelta("one", 1)), Is.Null, "it could still be the start");
        Assert.That(echo.Pass(new InferenceDelta(" more", 1)), Is.EqualTo(new InferenceDelta("one more", 1)));
    }

    [Test]
    public void AnAnswerThatEndsWhileItsTextCouldStillBeTheStart_GivesNothingMore()
    {
        var echo = new EchoedStart("one two three");
        Assert.That(echo.Pass(new InferenceDelta("one two", 1)), Is.Null);

        Assert.That(echo.Rest(), Is.Null);
    }
}

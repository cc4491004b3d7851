using MeatLizard.Application.Relay;
using MeatLizard.Domain.Relay;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>The text an attempt showed, from pieces kept by any number of server bots.</summary>
public sealed class RelayStreamStateTests
{
    private const int Second = RelayRequest.SeqPerAttempt;

    [Test]
    public void PiecesInAnyOrder_OfOneAttempt_MakeItsWholeText_OtherAttemptsAside()
    {
        (int, string)[] pieces = [(3, " blue"), (Second + 1, "later"), (1, "The sky"), (2, " is")];

        Assert.That(RelayStreamState.WholeTextOf(pieces, attempt: 1), Is.EqualTo("The sky is blue"));
        Assert.That(RelayStreamState.WholeTextOf(pieces, attempt: 2), Is.EqualTo("later"));
    }

    [TestCase(new[] { 1, 3 }, TestName = "APieceMissingInTheMiddle_IsNoWholeText")]
    [TestCase(new[] { 2, 3 }, TestName = "TheFirstPieceMissing_IsNoWholeText")]
    [TestCase(new int[0], TestName = "NoPiece_IsNoText")]
    public void PiecesWithAHole_MakeNoText(int[] seqs) =>
        Assert.That(RelayStreamState.WholeTextOf(seqs.Select(s => (s, $"p{s}")), attempt: 1), Is.Null);
}

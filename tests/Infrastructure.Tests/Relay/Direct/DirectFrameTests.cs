using System.Text;
using MeatLizard.Infrastructure.Relay.Direct;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay.Direct;

public sealed class DirectFrameTests
{
    private static DirectFrame? Read(string text) => DirectFrame.Read(Encoding.UTF8.GetBytes(text));

    [Test]
    public void EveryKindOfFrame_ReadsBackAsWritten()
    {
        var chat = Guid.NewGuid();
        var mine = Guid.NewGuid();
        var yours = Guid.NewGuid();
        DirectFrame[] frames =
        [
            DirectFrame.Envelope(7, chat, "ML1.abc-_"),
            DirectFrame.Envelope(8, null, "ML1.heartbeat"),
            DirectFrame.Ack(8),
            DirectFrame.Hello(6, mine, yours),
            DirectFrame.Hello(0, mine, null),
        ];

        Assert.That(frames.Select(f => DirectFrame.Read(f.Write())), Is.EqualTo(frames.Select(f => (DirectFrame?)f)));
    }

    [TestCase("not json")]
    [TestCase("[1,2]")]
    [TestCase("""{"t":"e","w":"ML1.x"}""")]
    [TestCase("""{"t":"e","s":-1,"w":"ML1.x"}""")]
    [TestCase("""{"t":"e","s":1}""")]
    [TestCase("""{"t":"h","s":1}""")]
    [TestCase("""{"t":"z","s":1}""")]
    [TestCase("""{"t":"e","s":"1","w":"ML1.x"}""")]
    [TestCase("""{"t":"e","s":1,"w":"ML1.x""")]
    public void WhatIsNotAFrame_ReadsAsNothing(string text) => Assert.That(Read(text), Is.Null);

    [Test]
    public void AnEnvelopeFrame_WhoseWireIsNotAnEnvelope_KeepsItsNumber_ButCarriesNoEnvelope()
    {
        var frame = Read("""{"t":"e","s":3,"w":"hello","extra":{"a":[1]}}""");

        Assert.That(frame?.Seq, Is.EqualTo(3));
        Assert.That(frame?.CarriesEnvelope, Is.False);
        Assert.That(Read("""{"t":"e","s":3,"w":"ML1.AAAA"}""")?.CarriesEnvelope, Is.True);
    }

    [Test]
    public void AChatThatIsNotAGuid_IsLeftOut()
    {
        Assert.That(Read("""{"t":"e","s":3,"c":"chat-1","w":"ML1.AAAA"}""")?.ChatId, Is.Null);
    }
}

using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure.Relay;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Relay.RelayTestKit;

namespace MeatLizard.Infrastructure.Tests.Relay;

/// <summary>The message's trace context crosses the relay inside the encrypted request body, never in the clear.</summary>
public sealed class TraceContextEnvelopeTests
{
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    [Test]
    public async Task RequestBody_CarriesTheTraceParent_ThroughSealAndOpen_AndTheWireTextHidesIt()
    {
        var clock = new TestClock(Now);
        using var server = Cipher(Ring(1, Key(3)), clock);
        using var worker = Cipher(Ring(1, Key(3)), clock);
        var body = new RequestBody("tiny", null, [new TurnBody("user", "hi")], null, null, null,
            WorkerId: Guid.NewGuid(), TraceParent: TraceParent);
        var envelope = new RelayEnvelope(EnvelopeType.Request, ChatId, RequestId, 1, Now, RelayJson.ToBody(body));

        var wire = server.Seal(envelope, RelayDirection.ServerToClient);
        var opened = await worker.OpenAsync(wire, RelayDirection.ServerToClient, ChatId, CancellationToken.None);

        Assert.That(opened.Envelope, Is.Not.Null, opened.Rejection.ToString());
        Assert.That(RelayJson.FromBody<RequestBody>(opened.Envelope!).TraceParent, Is.EqualTo(TraceParent));
        // Discord sees only the wire text (and, for a long one, the same text as a file): neither the trace id nor
        // the span id may be read from it, encoded or not.
        var packed = System.Buffers.Text.Base64Url.DecodeFromChars(wire.AsSpan(AesGcmEnvelopeCipher.Prefix.Length));
        foreach (var part in new[] { "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7" })
        {
            Assert.That(wire, Does.Not.Contain(part));
            Assert.That(Encoding.ASCII.GetString(packed), Does.Not.Contain(part));
        }
    }

    [Test]
    public void RequestBody_FromAServerThatSendsNoTraceParent_ReadsAsNull()
    {
        var envelope = Envelope(EnvelopeType.Request, body: """
            {"model":null,"systemPrompt":null,"messages":[{"role":"user","content":"hi"}],"temperature":null,"topP":null,"maxTokens":null}
            """);

        Assert.That(RelayJson.FromBody<RequestBody>(envelope).TraceParent, Is.Null);
    }
}

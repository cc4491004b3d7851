using System.Buffers.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using Moq;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Relay.RelayTestKit;

namespace MeatLizard.Infrastructure.Tests.Relay;

public sealed class AesGcmEnvelopeCipherTests
{
    private const RelayDirection Down = RelayDirection.ServerToClient;
    private const RelayDirection Up = RelayDirection.ClientToServer;

    private TestClock _clock = null!;
    private RelayRejectionCounter _counter = null!;
    private AesGcmEnvelopeCipher _cipher = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new TestClock(Now);
        _counter = Counter();
        _cipher = Cipher(Ring(1, Key(0)), _clock, counter: _counter);
    }

    [TearDown]
    public void TearDown() => _cipher.Dispose();

    [TestCase(Down)]
    [TestCase(Up)]
    public async Task SealThenOpen_SameDirection_ReturnsTheSameEnvelope(RelayDirection direction)
    {
        var envelope = Envelope(EnvelopeType.Final, seq: 9, body: """{"content":"Ça va? 🦎","promptTokens":3}""");

        var opened = await _cipher.OpenAsync(_cipher.Seal(envelope, direction), direction, ChatId, CancellationToken.None);

        Assert.That(opened.IsValid, Is.True, opened.Rejection.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(opened.Envelope!.Type, Is.EqualTo(EnvelopeType.Final));
            Assert.That(opened.Envelope.SessionId, Is.EqualTo(ChatId));
            Assert.That(opened.Envelope.RequestId, Is.EqualTo(RequestId));
            Assert.That(opened.Envelope.Seq, Is.EqualTo(9));
            Assert.That(opened.Envelope.SentAt, Is.EqualTo(Now));
            Assert.That(opened.Envelope.Body.GetProperty("content").GetString(), Is.EqualTo("Ça va? 🦎"));
            Assert.That(opened.Envelope.Body.GetProperty("promptTokens").GetInt32(), Is.EqualTo(3));
        });
    }

    [Test]
    public void Seal_TwiceTheSameEnvelope_UsesAFreshNonceEachTime()
    {
        var envelope = Envelope();

        Assert.That(_cipher.Seal(envelope, Down), Is.Not.EqualTo(_cipher.Seal(envelope, Down)));
    }

    [Test]
    public void Seal_WritesPrefixVersionAndActiveKeyIdInTheHeader()
    {
        var wire = _cipher.Seal(Envelope(), Down);

        var packet = Base64Url.DecodeFromChars(wire.AsSpan(4));
        Assert.Multiple(() =>
        {
            Assert.That(wire, Does.StartWith("ML1.").And.Not.Contain("="));
            Assert.That(packet[0], Is.EqualTo(1));
            Assert.That(packet[1], Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Open_EnvelopeSealedForTheOtherDirection_IsRejectedSoItCannotBeReflected()
    {
        var wire = _cipher.Seal(Envelope(EnvelopeType.Request, seq: 0), Down);

        var opened = await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TagMismatch));
    }

    // Offsets into the decoded packet: version 0, keyId 1, nonce 2..13, ciphertext 14..^17, tag ^16..
    [TestCase(2, EnvelopeRejection.TagMismatch, TestName = "Open_NonceByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(13, EnvelopeRejection.TagMismatch, TestName = "Open_LastNonceByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(14, EnvelopeRejection.TagMismatch, TestName = "Open_FirstCiphertextByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(-17, EnvelopeRejection.TagMismatch, TestName = "Open_LastCiphertextByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(-16, EnvelopeRejection.TagMismatch, TestName = "Open_FirstTagByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(-1, EnvelopeRejection.TagMismatch, TestName = "Open_LastTagByteFlipped_IsRejectedAsTagMismatch")]
    [TestCase(0, EnvelopeRejection.UnsupportedVersion, TestName = "Open_VersionByteChanged_IsRejectedAsUnsupportedVersion")]
    [TestCase(1, EnvelopeRejection.UnknownKey, TestName = "Open_KeyIdByteChangedToAnUnknownId_IsRejectedAsUnknownKey")]
    public async Task Open_TamperedPacket_IsRejected(int offset, EnvelopeRejection expected)
    {
        var wire = _cipher.Seal(Envelope(), Down);
        var tampered = FlipByte(wire, length => offset >= 0 ? offset : length + offset);

        var opened = await _cipher.OpenAsync(tampered, Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(expected));
        Assert.That(_counter.Count(expected), Is.EqualTo(1));
    }

    [Test]
    public async Task Open_KeyIdByteChangedToAnotherKnownKey_IsRejectedBecauseTheKeyIdIsAuthenticated()
    {
        // Both ids hold the same key: only the AAD (which carries the key id) tells them apart.
        var ring = RelayKeyRing.Create(new Dictionary<byte, byte[]> { [1] = Key(0), [0] = Key(0) }, 1);
        using var cipher = Cipher(ring, _clock);
        var tampered = FlipByte(cipher.Seal(Envelope(), Down), _ => 1); // id 1 → 0

        var opened = await cipher.OpenAsync(tampered, Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TagMismatch));
    }

    [Test]
    public async Task Open_SameKeyIdButDifferentKey_IsRejectedAsTagMismatch()
    {
        using var other = Cipher(Ring(1, Key(100)), _clock);

        var opened = await other.OpenAsync(_cipher.Seal(Envelope(), Down), Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TagMismatch));
    }

    [Test]
    public async Task Open_KeyIdNotInTheRing_IsRejectedAsUnknownKey()
    {
        using var other = Cipher(Ring(2, Key(0)), _clock);

        var opened = await other.OpenAsync(_cipher.Seal(Envelope(), Down), Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.UnknownKey));
    }

    [Test]
    public async Task KeyRotation_NewActiveKeySeals_AndTheOldKeyStillOpens()
    {
        var rotated = RelayKeyRing.Create(new Dictionary<byte, byte[]> { [1] = Key(0), [2] = Key(50) }, activeKeyId: 2);
        using var receiver = Cipher(rotated, _clock);
        using var newOnly = Cipher(Ring(2, Key(50)), _clock);

        var fromOldSender = await receiver.OpenAsync(_cipher.Seal(Envelope(seq: 1), Up), Up, ChatId, CancellationToken.None);
        var sealedByRotated = receiver.Seal(Envelope(seq: 2), Down);
        var byNewOnly = await newOnly.OpenAsync(sealedByRotated, Down, ChatId, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(fromOldSender.Rejection, Is.EqualTo(EnvelopeRejection.None));
            Assert.That(Base64Url.DecodeFromChars(sealedByRotated.AsSpan(4))[1], Is.EqualTo(2), "sealed with key id 2");
            Assert.That(byNewOnly.Rejection, Is.EqualTo(EnvelopeRejection.None));
        });
    }

    [TestCase(-301, EnvelopeRejection.Stale, TestName = "Open_SentMoreThanTheWindowAgo_IsRejectedAsStale")]
    [TestCase(301, EnvelopeRejection.Stale, TestName = "Open_SentMoreThanTheWindowInTheFuture_IsRejectedAsStale")]
    [TestCase(-300, EnvelopeRejection.None, TestName = "Open_SentExactlyTheWindowAgo_IsAccepted")]
    [TestCase(300, EnvelopeRejection.None, TestName = "Open_SentExactlyTheWindowAhead_IsAccepted")]
    public async Task Open_ChecksFreshnessAgainstTheClock(int sentSecondsFromNow, EnvelopeRejection expected)
    {
        // Not an Assume: a window changed without these cases would skip them silently instead of failing.
        Assert.That(Window, Is.EqualTo(TimeSpan.FromMinutes(5)), "the cases are written for the 5-minute window");
        var wire = _cipher.Seal(Envelope(sentAt: Now.AddSeconds(sentSecondsFromNow)), Down);

        var opened = await _cipher.OpenAsync(wire, Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(expected));
    }

    [Test]
    public async Task Open_SameWireTwice_SecondIsRejectedAsReplayed()
    {
        var wire = _cipher.Seal(Envelope(), Up);

        var first = await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);
        var second = await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);

        Assert.That(first.Rejection, Is.EqualTo(EnvelopeRejection.None));
        Assert.That(second.Rejection, Is.EqualTo(EnvelopeRejection.Replayed));
    }

    [Test]
    public async Task OpenUnhandled_IsRefusedAsAReplay_OnlyOnceMarkedHandled()
    {
        // The server marks an answer handled once it is stored: until then a copy read again (after a failed store or
        // a restart) must still open.
        var wire = _cipher.Seal(Envelope(EnvelopeType.Final, seq: 3), Up);

        var first = await _cipher.OpenUnhandledAsync(wire, Up, ChatId, CancellationToken.None);
        var again = await _cipher.OpenUnhandledAsync(wire, Up, ChatId, CancellationToken.None);
        await _cipher.MarkHandledAsync(first.Envelope!, CancellationToken.None);
        var afterHandled = await _cipher.OpenUnhandledAsync(wire, Up, ChatId, CancellationToken.None);
        var openedAsUsual = await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);

        Assert.That((first.Rejection, again.Rejection, afterHandled.Rejection, openedAsUsual.Rejection), Is.EqualTo(
            (EnvelopeRejection.None, EnvelopeRejection.None, EnvelopeRejection.Replayed, EnvelopeRejection.Replayed)));
    }

    [Test]
    public async Task Open_ResealedEnvelopeWithSameRequestTypeAndSeq_IsRejectedAsReplayed()
    {
        await _cipher.OpenAsync(_cipher.Seal(Envelope(EnvelopeType.Partial, seq: 4), Up), Up, ChatId, CancellationToken.None);
        var resealed = _cipher.Seal(Envelope(EnvelopeType.Partial, seq: 4, sentAt: Now.AddSeconds(1), body: """{"text":"other"}"""), Up);

        var opened = await _cipher.OpenAsync(resealed, Up, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.Replayed));
    }

    [Test]
    public async Task Open_DifferentSeqOrType_ForTheSameRequest_IsNotAReplay()
    {
        await _cipher.OpenAsync(_cipher.Seal(Envelope(EnvelopeType.Partial, seq: 1), Up), Up, ChatId, CancellationToken.None);

        var nextSeq = await _cipher.OpenAsync(_cipher.Seal(Envelope(EnvelopeType.Partial, seq: 2), Up), Up, ChatId, CancellationToken.None);
        var otherType = await _cipher.OpenAsync(_cipher.Seal(Envelope(EnvelopeType.Final, seq: 1), Up), Up, ChatId, CancellationToken.None);

        Assert.That(nextSeq.Rejection, Is.EqualTo(EnvelopeRejection.None));
        Assert.That(otherType.Rejection, Is.EqualTo(EnvelopeRejection.None));
    }

    [Test]
    public async Task Open_RegistersTheReplayKeyWithTwiceTheWindow_OnlyAfterEveryOtherCheckPasses()
    {
        var guard = new Mock<IReplayGuard>(MockBehavior.Strict);
        guard.Setup(g => g.SightAsync(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(ReplaySighting.First);
        using var cipher = Cipher(Ring(1, Key(0)), _clock, guard.Object);
        var good = cipher.Seal(Envelope(), Up);

        await cipher.OpenAsync(FlipByte(good, length => length - 1), Up, ChatId, CancellationToken.None);
        await cipher.OpenAsync(good, Down, ChatId, CancellationToken.None);
        await cipher.OpenAsync(cipher.Seal(Envelope(seq: 7, sentAt: Now.AddHours(-1)), Up), Up, ChatId, CancellationToken.None);
        await cipher.OpenAsync(good, Up, Guid.NewGuid(), CancellationToken.None);
        guard.Verify(g => g.SightAsync(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<CancellationToken>()), Times.Never);

        var opened = await cipher.OpenAsync(good, Up, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.None));
        guard.Verify(g => g.SightAsync($"{RequestId:N}:partial:1", 2 * Window, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Open_AnEnvelopeAnotherRelayProcessTookFirst_IsLeftToIt_NeitherCountedNorWarnedAbout()
    {
        // Two server bots read the same channels: what one took is the other's to leave, quietly.
        var guard = new Mock<IReplayGuard>(MockBehavior.Strict);
        guard.Setup(g => g.SightAsync(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(ReplaySighting.SeenElsewhere);
        var counter = Counter();
        using var cipher = Cipher(Ring(1, Key(0)), _clock, guard.Object, counter: counter);

        var opened = await cipher.OpenAsync(cipher.Seal(Envelope(), Up), Up, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TakenByPeer));
        Assert.That(opened.IsValid, Is.False, "not handled here");
        Assert.That(counter.Total, Is.Zero, "not counted as refused");
    }

    [Test]
    public async Task OpenUnhandled_AnEnvelopeAnotherRelayProcessHandled_IsLeftToIt_NotCountedAsAReplay()
    {
        // The server bots open a host's envelopes unhandled and mark them once stored: the bot that did not store one
        // finds it marked by the other. Before, that was a "Replayed" warning and count for every envelope, on each bot.
        var guard = new Mock<IReplayGuard>(MockBehavior.Strict);
        guard.Setup(g => g.SeenByAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(ReplaySighting.SeenElsewhere);
        var counter = Counter();
        using var cipher = Cipher(Ring(1, Key(0)), _clock, guard.Object, counter: counter);

        var opened = await cipher.OpenUnhandledAsync(cipher.Seal(Envelope(), Up), Up, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.TakenByPeer));
        Assert.That(counter.Total, Is.Zero, "not counted as refused");
    }

    [Test]
    public async Task Open_SessionIdDifferentFromTheChannel_IsRejectedAsSessionMismatch_AndDoesNotBurnTheReplayKey()
    {
        var wire = _cipher.Seal(Envelope(), Up);

        var onWrongChannel = await _cipher.OpenAsync(wire, Up, Guid.NewGuid(), CancellationToken.None);
        var onRightChannel = await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);

        Assert.That(onWrongChannel.Rejection, Is.EqualTo(EnvelopeRejection.SessionMismatch));
        Assert.That(onRightChannel.Rejection, Is.EqualTo(EnvelopeRejection.None));
    }

    [Test]
    public async Task Open_WithoutExpectedSession_AcceptsAnySessionId()
    {
        var opened = await _cipher.OpenAsync(_cipher.Seal(Envelope(chatId: Guid.NewGuid()), Up), Up, null, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.None));
    }

    [TestCase("", EnvelopeRejection.BadPrefix)]
    [TestCase("ML2.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBVX", EnvelopeRejection.BadPrefix)]
    [TestCase("ml1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBVX", EnvelopeRejection.BadPrefix)]
    [TestCase("{\"type\":\"request\"}", EnvelopeRejection.BadPrefix)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBV+", EnvelopeRejection.BadEncoding)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBV/", EnvelopeRejection.BadEncoding)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBU=", EnvelopeRejection.BadEncoding)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJ Cgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBVX", EnvelopeRejection.BadEncoding)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAsZofqlR5UILBVXA", EnvelopeRejection.BadEncoding)]
    [TestCase("ML1.", EnvelopeRejection.BadLength)]
    [TestCase("ML1.AQE", EnvelopeRejection.BadLength)]
    [TestCase("ML1.AQEAAQIDBAUGBwgJCgs8IKJitYDgIa8z8vrEjAs", EnvelopeRejection.BadLength)] // 29 bytes, one short
    public async Task Open_MalformedWireText_IsRejectedWithoutThrowing(string wire, EnvelopeRejection expected)
    {
        var opened = await _cipher.OpenAsync(wire, Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(expected));
        Assert.That(opened.Envelope, Is.Null);
    }

    [Test]
    public async Task Open_TruncatedWire_IsRejected()
    {
        var wire = _cipher.Seal(Envelope(), Down);

        var dropTagByte = await _cipher.OpenAsync(wire[..^4], Down, ChatId, CancellationToken.None);
        var headerOnly = await _cipher.OpenAsync(wire[..24], Down, ChatId, CancellationToken.None);

        Assert.That(dropTagByte.Rejection, Is.EqualTo(EnvelopeRejection.TagMismatch));
        Assert.That(headerOnly.Rejection, Is.EqualTo(EnvelopeRejection.BadLength));
    }

    [Test]
    public async Task Open_VersionOtherThanOne_IsRejectedAsUnsupportedVersion()
    {
        var packet = Base64Url.DecodeFromChars(_cipher.Seal(Envelope(), Down).AsSpan(4));
        packet[0] = 2;

        var opened = await _cipher.OpenAsync("ML1." + Base64Url.EncodeToString(packet), Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.UnsupportedVersion));
    }

    [TestCase("", TestName = "Open_EmptyPlaintext_IsRejectedAsMalformedPayload")]
    [TestCase("not json", TestName = "Open_PlaintextNotJson_IsRejectedAsMalformedPayload")]
    [TestCase("[1,2]", TestName = "Open_PlaintextNotAnObject_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00"}""", TestName = "Open_PlaintextWithoutBody_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_PlaintextWithoutRequestId_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"shout","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_UnknownType_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"Partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_TypeNotLowerCase_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":2,"sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_TypeAsNumber_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"nope","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_SessionIdNotAGuid_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":"1","sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_SeqAsString_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1.5,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_SeqNotAnInteger_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"yesterday","body":{}}""", TestName = "Open_SentAtNotADate_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","type":"final","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}}""", TestName = "Open_DuplicateField_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{}} {}""", TestName = "Open_TrailingContentAfterTheObject_IsRejectedAsMalformedPayload")]
    [TestCase("""{"type":"partial","sessionId":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","requestId":"0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3","seq":1,"sentAt":"2025-01-02T03:04:05+00:00","body":{"text":"unclosed"}""", TestName = "Open_TruncatedJson_IsRejectedAsMalformedPayload")]
    public async Task Open_AuthenticPlaintextThatIsNotAValidEnvelope_IsRejectedAsMalformedPayload(string json)
    {
        var wire = SealRawPlaintext(json, Down);

        var opened = await _cipher.OpenAsync(wire, Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.MalformedPayload));
    }

    [Test]
    public async Task Open_PlaintextWithUnknownExtraFieldsInAnyOrder_IsAccepted()
    {
        var json = """{ "body": {"text":"x"}, "future": [1, {"a": 2}], "seq": 1, "sentAt": "2025-01-02T03:04:05Z", "requestId": "0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3", "sessionId": "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", "type": "partial" }""";

        var opened = await _cipher.OpenAsync(SealRawPlaintext(json, Down), Down, ChatId, CancellationToken.None);

        Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.None));
        Assert.That(opened.Envelope!.Body.GetProperty("text").GetString(), Is.EqualTo("x"));
    }

    [Test]
    public async Task Rejections_AreCountedPerReason()
    {
        var wire = _cipher.Seal(Envelope(), Up);
        await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);
        await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);
        await _cipher.OpenAsync(wire, Up, ChatId, CancellationToken.None);
        await _cipher.OpenAsync("nope", Up, ChatId, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(_counter.Count(EnvelopeRejection.Replayed), Is.EqualTo(2));
            Assert.That(_counter.Count(EnvelopeRejection.BadPrefix), Is.EqualTo(1));
            Assert.That(_counter.Total, Is.EqualTo(3));
            Assert.That(_counter.Snapshot(), Has.Count.EqualTo(2));
        });
    }

    [Test]
    public async Task SealAndOpen_FromManyThreadsAtOnce_AllRoundTrip()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 2000).Select(seq => Task.Run(async () =>
        {
            var direction = seq % 2 == 0 ? Down : Up;
            var wire = _cipher.Seal(Envelope(seq: seq, body: $$"""{"text":"{{new string('x', seq % 300)}}"}"""), direction);
            var opened = await _cipher.OpenAsync(wire, direction, ChatId, CancellationToken.None);
            return opened.IsValid && opened.Envelope!.Seq == seq
                && opened.Envelope.Body.GetProperty("text").GetString()!.Length == seq % 300;
        })));

        Assert.That(results, Is.All.True);
    }

    /// <summary>Seals arbitrary bytes exactly as the cipher would, to test what happens after authentication.</summary>
    private static string SealRawPlaintext(string json, RelayDirection direction)
    {
        var plaintext = System.Text.Encoding.UTF8.GetBytes(json);
        var packet = new byte[2 + 12 + plaintext.Length + 16];
        packet[0] = 1;
        packet[1] = 1;
        System.Security.Cryptography.RandomNumberGenerator.Fill(packet.AsSpan(2, 12));
        using var aes = new System.Security.Cryptography.AesGcm(Key(0), 16);
        aes.Encrypt(packet.AsSpan(2, 12), plaintext, packet.AsSpan(14, plaintext.Length), packet.AsSpan(14 + plaintext.Length),
            [1, 1, (byte)direction]);
        return "ML1." + Base64Url.EncodeToString(packet);
    }
}

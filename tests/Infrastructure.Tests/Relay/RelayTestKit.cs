using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Tests.Relay;

/// <summary>A clock the test sets.</summary>
internal sealed class TestClock(DateTimeOffset now) : IClock
{
    public DateTimeOffset UtcNow { get; set; } = now;

    public void Advance(TimeSpan by) => UtcNow += by;
}

/// <summary>Builds ciphers and envelopes for the relay tests.</summary>
internal static class RelayTestKit
{
    public static readonly DateTimeOffset Now = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
    public static readonly TimeSpan Window = new RelayOptions().FreshnessWindow;
    public static readonly Guid ChatId = Guid.Parse("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab");
    public static readonly Guid RequestId = Guid.Parse("0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3");

    public static byte[] Key(byte seed) => [.. Enumerable.Range(0, 32).Select(i => (byte)(seed + i))];

    public static RelayKeyRing Ring(byte id, byte[] key) =>
        RelayKeyRing.Create(new Dictionary<byte, byte[]> { [id] = key }, id);

    public static RelayRejectionCounter Counter() =>
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    public static AesGcmEnvelopeCipher Cipher(
        RelayKeyRing ring, IClock clock, IReplayGuard? guard = null, RelayRejectionCounter? counter = null,
        byte[]? fixedNonce = null) =>
        fixedNonce is null
            ? new AesGcmEnvelopeCipher(ring, guard ?? Guard(clock), clock, Options.Create(new RelayOptions()),
                counter ?? Counter(), NullLogger<AesGcmEnvelopeCipher>.Instance)
            : new AesGcmEnvelopeCipher(ring, guard ?? Guard(clock), clock, Options.Create(new RelayOptions()),
                counter ?? Counter(), NullLogger<AesGcmEnvelopeCipher>.Instance, nonce => fixedNonce.CopyTo(nonce));

    public static MemoryReplayGuard Guard(IClock clock, int capacity = MemoryReplayGuard.DefaultCapacity) =>
        new(clock, NullLogger<MemoryReplayGuard>.Instance, capacity);

    public static RelayEnvelope Envelope(
        EnvelopeType type = EnvelopeType.Partial, int seq = 1, DateTimeOffset? sentAt = null, Guid? chatId = null,
        string body = """{"text":"Hello"}""") =>
        new(type, chatId ?? ChatId, RequestId, seq, sentAt ?? Now, JsonDocument.Parse(body).RootElement.Clone());

    /// <summary>The wire text with one byte of the decoded packet flipped.</summary>
    public static string FlipByte(string wire, Func<int, int> indexFromLength)
    {
        var packed = System.Buffers.Text.Base64Url.DecodeFromChars(wire.AsSpan(AesGcmEnvelopeCipher.Prefix.Length));
        packed[indexFromLength(packed.Length)] ^= 0x01;
        return AesGcmEnvelopeCipher.Prefix + System.Buffers.Text.Base64Url.EncodeToString(packed);
    }
}

using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>Fills a 12-byte GCM nonce. Production uses the system CSPRNG; tests pass a fixed one to reproduce vectors.</summary>
internal delegate void NonceSource(Span<byte> nonce);

/// <summary>
/// The relay envelope codec of docs/relay-envelope.md: AES-256-GCM over the JSON envelope, wire text
/// <c>ML1.</c> + base64url(version | keyId | nonce | ciphertext | tag), AAD = version | keyId | direction.
/// Opening never throws for bad input: it returns the reason, counts it and logs it (without content).
/// </summary>
public sealed partial class AesGcmEnvelopeCipher(
    RelayKeyRing keys,
    IReplayGuard replayGuard,
    IClock clock,
    IOptions<RelayOptions> options,
    RelayRejectionCounter rejections,
    ILogger<AesGcmEnvelopeCipher> logger) : IEnvelopeCipher, IDisposable
{
    public const string Prefix = "ML1.";
    public const byte Version = 1;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    private const int HeaderSize = 2;
    private const int MinPackedSize = HeaderSize + NonceSize + TagSize;

    /// <summary>Far more than any envelope needs; longer text is refused before it is decoded.</summary>
    private const int MaxWireLength = 16 * 1024 * 1024;

    private static readonly SearchValues<char> s_base64UrlAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly EnvelopeOpenResult[] s_rejected =
        [.. Enum.GetValues<EnvelopeRejection>().Select(EnvelopeOpenResult.Rejected)];

    private readonly AesGcmPool?[] _pools = CreatePools(keys);
    private readonly TimeSpan _window = ReadWindow(options);
    private readonly NonceSource _fillNonce = RandomNumberGenerator.Fill;

    /// <summary>For tests: a fixed nonce source, so sealing is deterministic.</summary>
    internal AesGcmEnvelopeCipher(
        RelayKeyRing keys,
        IReplayGuard replayGuard,
        IClock clock,
        IOptions<RelayOptions> options,
        RelayRejectionCounter rejections,
        ILogger<AesGcmEnvelopeCipher> logger,
        NonceSource fillNonce)
        : this(keys, replayGuard, clock, options, rejections, logger)
    {
        _fillNonce = fillNonce;
    }

    public string Seal(RelayEnvelope envelope, RelayDirection direction)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var directionByte = DirectionByte(direction);
        var keyId = keys.ActiveKeyId;
        var pool = _pools[keyId]!;

        var plaintext = EnvelopeJson.Write(envelope);
        try
        {
            var message = plaintext.WrittenSpan;
            var packedLength = MinPackedSize + message.Length;
            var packed = ArrayPool<byte>.Shared.Rent(packedLength);
            try
            {
                var span = packed.AsSpan(0, packedLength);
                span[0] = Version;
                span[1] = keyId;
                var nonce = span.Slice(HeaderSize, NonceSize);
                _fillNonce(nonce);
                ReadOnlySpan<byte> aad = [Version, keyId, directionByte];
                var aes = pool.Rent();
                try
                {
                    aes.Encrypt(nonce, message, span.Slice(HeaderSize + NonceSize, message.Length),
                        span.Slice(HeaderSize + NonceSize + message.Length, TagSize), aad);
                }
                finally
                {
                    pool.Return(aes);
                }

                return string.Create(Prefix.Length + Base64Url.GetEncodedLength(packedLength), (packed, packedLength),
                    static (chars, state) =>
                    {
                        Prefix.CopyTo(chars);
                        Base64Url.EncodeToChars(state.packed.AsSpan(0, state.packedLength), chars[Prefix.Length..]);
                    });
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(packed);
            }
        }
        finally
        {
            EnvelopeJson.Release(plaintext);
        }
    }

    public ValueTask<EnvelopeOpenResult> OpenAsync(
        string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken cancellationToken) =>
        OpenAsync(wire, direction, expectedSessionId, markHandled: true, cancellationToken);

    public ValueTask<EnvelopeOpenResult> OpenUnhandledAsync(
        string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken cancellationToken) =>
        OpenAsync(wire, direction, expectedSessionId, markHandled: false, cancellationToken);

    public async ValueTask MarkHandledAsync(RelayEnvelope envelope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        // False when a copy was marked first: it is handled either way.
        await replayGuard.TryRegisterAsync(ReplayKey(envelope), 2 * _window, cancellationToken);
    }

    private async ValueTask<EnvelopeOpenResult> OpenAsync(
        string wire, RelayDirection direction, Guid? expectedSessionId, bool markHandled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(wire);
        var rejection = TryOpen(wire, DirectionByte(direction), expectedSessionId, out var envelope);
        if (rejection == EnvelopeRejection.None)
        {
            // Seen first by another relay process (the server bot beside this one, which handled it): not a replay,
            // and not this one's to handle — left quietly, whether this one marks what it handles now or later.
            rejection = (markHandled
                    ? await replayGuard.SightAsync(ReplayKey(envelope!), 2 * _window, cancellationToken)
                    : await replayGuard.SeenByAsync(ReplayKey(envelope!), cancellationToken)) switch
                {
                    ReplaySighting.First => rejection,
                    ReplaySighting.SeenElsewhere => EnvelopeRejection.TakenByPeer,
                    _ => EnvelopeRejection.Replayed,
                };
        }

        if (rejection == EnvelopeRejection.TakenByPeer)
        {
            LogTakenByPeer(logger, direction, expectedSessionId);
            return s_rejected[(int)rejection];
        }

        if (rejection != EnvelopeRejection.None)
        {
            rejections.Increment(rejection);
            LogRejected(logger, rejection, direction, expectedSessionId);
            return s_rejected[(int)rejection];
        }

        return EnvelopeOpenResult.Ok(envelope!);
    }

    public void Dispose()
    {
        foreach (var pool in _pools)
        {
            pool?.Dispose();
        }
    }

    /// <summary>The replay identity of an envelope: (requestId, type, seq).</summary>
    internal static string ReplayKey(RelayEnvelope envelope) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{envelope.RequestId:N}:{EnvelopeJson.TypeNameOf(envelope.Type)}:{envelope.Seq}");

    private EnvelopeRejection TryOpen(
        string wire, byte direction, Guid? expectedSessionId, out RelayEnvelope? envelope)
    {
        envelope = null;
        if (!wire.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return EnvelopeRejection.BadPrefix;
        }

        var text = wire.AsSpan(Prefix.Length);
        if (text.Length > MaxWireLength)
        {
            return EnvelopeRejection.BadLength;
        }

        if (text.ContainsAnyExcept(s_base64UrlAlphabet) || text.Length % 4 == 1)
        {
            return EnvelopeRejection.BadEncoding;
        }

        var packed = ArrayPool<byte>.Shared.Rent(Math.Max(Base64Url.GetMaxDecodedLength(text.Length), 1));
        byte[]? plaintext = null;
        var plaintextLength = 0;
        try
        {
            if (!Base64Url.TryDecodeFromChars(text, packed, out var packedLength))
            {
                return EnvelopeRejection.BadEncoding;
            }

            if (packedLength < MinPackedSize)
            {
                return EnvelopeRejection.BadLength;
            }

            if (packed[0] != Version)
            {
                return EnvelopeRejection.UnsupportedVersion;
            }

            var keyId = packed[1];
            if (_pools[keyId] is not { } pool)
            {
                return EnvelopeRejection.UnknownKey;
            }

            plaintextLength = packedLength - MinPackedSize;
            plaintext = ArrayPool<byte>.Shared.Rent(Math.Max(plaintextLength, 1));
            var span = packed.AsSpan(0, packedLength);
            ReadOnlySpan<byte> aad = [Version, keyId, direction];
            var aes = pool.Rent();
            try
            {
                aes.Decrypt(span.Slice(HeaderSize, NonceSize), span.Slice(HeaderSize + NonceSize, plaintextLength),
                    span[^TagSize..], plaintext.AsSpan(0, plaintextLength), aad);
            }
            catch (AuthenticationTagMismatchException)
            {
                return EnvelopeRejection.TagMismatch;
            }
            finally
            {
                pool.Return(aes);
            }

            if (!EnvelopeJson.TryRead(plaintext.AsSpan(0, plaintextLength), out var opened))
            {
                return EnvelopeRejection.MalformedPayload;
            }

            if ((opened.SentAt - clock.UtcNow).Duration() > _window)
            {
                return EnvelopeRejection.Stale;
            }

            if (expectedSessionId is { } expected && expected != opened.SessionId)
            {
                return EnvelopeRejection.SessionMismatch;
            }

            envelope = opened;
            return EnvelopeRejection.None;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packed);
            if (plaintext is not null)
            {
                CryptographicOperations.ZeroMemory(plaintext.AsSpan(0, plaintextLength));
                ArrayPool<byte>.Shared.Return(plaintext);
            }
        }
    }


    private static byte DirectionByte(RelayDirection direction) => direction switch
    {
        RelayDirection.ServerToClient or RelayDirection.ClientToServer => (byte)direction,
        _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Not a relay direction."),
    };

    private static AesGcmPool?[] CreatePools(RelayKeyRing keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var pools = new AesGcmPool?[256];
        foreach (var id in keys.KeyIds)
        {
            pools[id] = new AesGcmPool(keys.GetKey(id)!, TagSize);
        }

        return pools;
    }

    private static TimeSpan ReadWindow(IOptions<RelayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var window = options.Value.FreshnessWindow;
        return window > TimeSpan.Zero
            ? window
            : throw new ConfigurationException($"Relay:FreshnessWindow must be positive (got {window}).");
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Left a relay envelope to the relay process that took it first (direction {Direction}, channel session {SessionId})")]
    private static partial void LogTakenByPeer(ILogger logger, RelayDirection direction, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refused a relay envelope: {Reason} (direction {Direction}, channel session {SessionId})")]
    private static partial void LogRejected(
        ILogger logger, EnvelopeRejection reason, RelayDirection direction, Guid? sessionId);
}

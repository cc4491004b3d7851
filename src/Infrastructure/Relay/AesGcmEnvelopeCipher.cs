using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
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

    /// <summary>A thread's plaintext buffer is kept for reuse unless a large envelope grew it beyond this.</summary>
    private const int MaxCachedBufferSize = 256 * 1024;

    private static readonly SearchValues<char> s_base64UrlAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly EnvelopeOpenResult[] s_rejected =
        [.. Enum.GetValues<EnvelopeRejection>().Select(EnvelopeOpenResult.Rejected)];

    private static readonly EnvelopeType[] s_types = Enum.GetValues<EnvelopeType>();

    private static readonly string[] s_typeNames =
        [.. s_types.Select(t => System.Text.Encoding.UTF8.GetString(TypeName(t)))];

    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = RelayJson.Options.Encoder };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_plaintext;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

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

        var plaintext = t_plaintext ??= new ArrayBufferWriter<byte>(4096);
        try
        {
            WritePlaintext(plaintext, envelope);
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
            plaintext.Clear(); // zeroes what was written: no plaintext lingers in a reused buffer
            if (plaintext.Capacity > MaxCachedBufferSize)
            {
                t_plaintext = null;
                t_writer = null;
            }
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
        if (rejection == EnvelopeRejection.None
            && (markHandled
                ? !await replayGuard.TryRegisterAsync(ReplayKey(envelope!), 2 * _window, cancellationToken)
                : await replayGuard.WasSeenAsync(ReplayKey(envelope!), cancellationToken)))
        {
            rejection = EnvelopeRejection.Replayed;
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
            $"{envelope.RequestId:N}:{s_typeNames[(int)envelope.Type]}:{envelope.Seq}");

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

            if (!TryReadPlaintext(plaintext.AsSpan(0, plaintextLength), out var opened))
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

    private static void WritePlaintext(ArrayBufferWriter<byte> buffer, RelayEnvelope envelope)
    {
        var writer = t_writer;
        if (writer is null)
        {
            writer = t_writer = new Utf8JsonWriter(buffer, s_writerOptions);
        }
        else
        {
            writer.Reset(buffer);
        }

        writer.WriteStartObject();
        writer.WriteString("type"u8, TypeName(envelope.Type));
        writer.WriteString("sessionId"u8, envelope.SessionId);
        writer.WriteString("requestId"u8, envelope.RequestId);
        writer.WriteNumber("seq"u8, envelope.Seq);
        writer.WriteString("sentAt"u8, envelope.SentAt);
        writer.WritePropertyName("body"u8);
        if (envelope.Body.ValueKind == JsonValueKind.Undefined)
        {
            writer.WriteNullValue();
        }
        else
        {
            envelope.Body.WriteTo(writer);
        }

        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>
    /// Reads the envelope JSON strictly: exact camelCase names, each once, the type as its lower-case name, every
    /// field present. Unknown fields are skipped so later versions can add some.
    /// </summary>
    private static bool TryReadPlaintext(ReadOnlySpan<byte> json, out RelayEnvelope envelope)
    {
        envelope = null!;
        EnvelopeType? type = null;
        Guid? sessionId = null;
        Guid? requestId = null;
        int? seq = null;
        DateTimeOffset? sentAt = null;
        JsonElement? body = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    if (type is not null || !reader.Read() || (type = ParseType(ref reader)) is null)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("sessionId"u8))
                {
                    if (sessionId is not null || !reader.Read() || (sessionId = ReadGuid(ref reader)) is null)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("requestId"u8))
                {
                    if (requestId is not null || !reader.Read() || (requestId = ReadGuid(ref reader)) is null)
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    if (seq is not null || !reader.Read() || reader.TokenType != JsonTokenType.Number
                        || !reader.TryGetInt32(out var value))
                    {
                        return false;
                    }

                    seq = value;
                }
                else if (reader.ValueTextEquals("sentAt"u8))
                {
                    if (sentAt is not null || !reader.Read() || reader.TokenType != JsonTokenType.String
                        || !reader.TryGetDateTimeOffset(out var value))
                    {
                        return false;
                    }

                    sentAt = value;
                }
                else if (reader.ValueTextEquals("body"u8))
                {
                    if (body is not null || !reader.Read())
                    {
                        return false;
                    }

                    body = JsonElement.ParseValue(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }

            // The loop ends on the closing brace; reading past it throws if anything but whitespace follows.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        if (type is null || sessionId is null || requestId is null || seq is null || sentAt is null || body is null)
        {
            return false;
        }

        envelope = new RelayEnvelope(type.Value, sessionId.Value, requestId.Value, seq.Value, sentAt.Value, body.Value);
        return true;
    }

    private static EnvelopeType? ParseType(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return null;
        }

        foreach (var type in s_types)
        {
            if (reader.ValueTextEquals(TypeName(type)))
            {
                return type;
            }
        }

        return null;
    }

    private static Guid? ReadGuid(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var value) ? value : null;

    private static ReadOnlySpan<byte> TypeName(EnvelopeType type) => type switch
    {
        EnvelopeType.Request => "request"u8,
        EnvelopeType.Ack => "ack"u8,
        EnvelopeType.Partial => "partial"u8,
        EnvelopeType.Final => "final"u8,
        EnvelopeType.Error => "error"u8,
        EnvelopeType.Cancel => "cancel"u8,
        EnvelopeType.Heartbeat => "heartbeat"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not an envelope type."),
    };

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
            pools[id] = new AesGcmPool(keys.GetKey(id)!);
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refused a relay envelope: {Reason} (direction {Direction}, channel session {SessionId})")]
    private static partial void LogRejected(
        ILogger logger, EnvelopeRejection reason, RelayDirection direction, Guid? sessionId);

    /// <summary>
    /// <see cref="AesGcm"/> instances for one key. An instance is not thread-safe, and making one sets up the key
    /// schedule and a native context, so a few are kept and lent out one caller at a time.
    /// </summary>
    private sealed class AesGcmPool(byte[] key) : IDisposable
    {
        private static readonly int s_maxIdle = Environment.ProcessorCount * 2;

        private readonly ConcurrentQueue<AesGcm> _idle = new();
        private int _idleCount;

        public AesGcm Rent()
        {
            if (_idle.TryDequeue(out var aes))
            {
                Interlocked.Decrement(ref _idleCount);
                return aes;
            }

            return new AesGcm(key, TagSize);
        }

        public void Return(AesGcm aes)
        {
            if (Interlocked.Increment(ref _idleCount) <= s_maxIdle)
            {
                _idle.Enqueue(aes);
                return;
            }

            Interlocked.Decrement(ref _idleCount);
            aes.Dispose();
        }

        public void Dispose()
        {
            while (_idle.TryDequeue(out var aes))
            {
                aes.Dispose();
            }
        }
    }
}

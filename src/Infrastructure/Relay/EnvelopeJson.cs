using System.Buffers;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// The envelope's plaintext: the JSON object <c>{type, sessionId, requestId, seq, sentAt, body}</c> of
/// docs/relay-envelope.md, written and read without reflection. Writing goes into a per-thread buffer that is zeroed
/// after each use, so no plaintext lingers.
/// </summary>
internal static class EnvelopeJson
{
    /// <summary>A thread's plaintext buffer is kept for reuse unless a large envelope grew it beyond this.</summary>
    private const int MaxCachedBufferSize = 256 * 1024;

    private static readonly EnvelopeType[] s_types = Enum.GetValues<EnvelopeType>();

    private static readonly string[] s_typeNames =
        [.. s_types.Select(t => System.Text.Encoding.UTF8.GetString(TypeName(t)))];

    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = RelayJson.Options.Encoder };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_plaintext;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The lower-case wire name of an envelope type.</summary>
    public static string TypeNameOf(EnvelopeType type) => s_typeNames[(int)type];

    /// <summary>
    /// Writes the envelope's JSON into this thread's buffer and returns it; hand it to <see cref="Release"/> once
    /// the bytes are used.
    /// </summary>
    public static ArrayBufferWriter<byte> Write(RelayEnvelope envelope)
    {
        var buffer = t_plaintext ??= new ArrayBufferWriter<byte>(4096);
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
        return buffer;
    }

    /// <summary>Zeroes what <see cref="Write"/> wrote; a buffer a large envelope grew is dropped, not kept.</summary>
    public static void Release(ArrayBufferWriter<byte> buffer)
    {
        buffer.Clear(); // zeroes what was written: no plaintext lingers in a reused buffer
        if (buffer.Capacity > MaxCachedBufferSize)
        {
            t_plaintext = null;
            t_writer = null;
        }
    }

    /// <summary>
    /// Reads the envelope JSON strictly: exact camelCase names, each once, the type as its lower-case name, every
    /// field present. Unknown fields are skipped so later versions can add some.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out RelayEnvelope envelope)
    {
        envelope = null!;
        EnvelopeType? type = null;
        Guid? chatId = null;
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
                    if (chatId is not null || !reader.Read() || (chatId = ReadGuid(ref reader)) is null)
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

        if (type is null || chatId is null || requestId is null || seq is null || sentAt is null || body is null)
        {
            return false;
        }

        envelope = new RelayEnvelope(type.Value, chatId.Value, requestId.Value, seq.Value, sentAt.Value, body.Value);
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
        EnvelopeType.Embed => "embed"u8,
        EnvelopeType.Vectors => "vectors"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not an envelope type."),
    };
}

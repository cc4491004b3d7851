using System.Buffers;
using System.Text.Json;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>What a direct relay frame carries.</summary>
public enum DirectFrameKind
{
    /// <summary>
    /// The first frame each side sends on a connection: the last envelope it received on the link, its own incarnation
    /// of the link (<see cref="DirectFrame.Link"/>) and the other side's that number refers to (<see cref="DirectFrame.PeerLink"/>).
    /// </summary>
    Hello,

    /// <summary>A sealed relay envelope, numbered on its link, with the chat whose answer it carries (null: none).</summary>
    Envelope,

    /// <summary>Every envelope up to <see cref="DirectFrame.Seq"/> arrived: the sender may forget them.</summary>
    Ack,
}

/// <summary>
/// One WebSocket text frame of the direct relay: a small JSON object, <c>{"t":"e","s":7,"c":"&lt;chat&gt;","w":"ML1…"}</c>
/// for an envelope, <c>{"t":"a","s":7}</c> for an ack, <c>{"t":"h","s":6,"l":"&lt;mine&gt;","p":"&lt;yours&gt;"}</c> for the hello. The envelope inside
/// (<c>w</c>) is the same sealed AES-256-GCM text as over Discord: the frame adds only its place on the link.
/// </summary>
public readonly record struct DirectFrame(
    DirectFrameKind Kind, long Seq, Guid? ChatId = null, string? Wire = null, Guid? Link = null, Guid? PeerLink = null)
{
    private static readonly JsonWriterOptions s_writerOptions = new() { SkipValidation = true };

    public static DirectFrame Hello(long lastReceived, Guid link, Guid? peerLink) =>
        new(DirectFrameKind.Hello, lastReceived, Link: link, PeerLink: peerLink);

    public static DirectFrame Ack(long seq) => new(DirectFrameKind.Ack, seq);

    public static DirectFrame Envelope(long seq, Guid? chatId, string wire) =>
        new(DirectFrameKind.Envelope, seq, chatId, wire);

    /// <summary>The frame's UTF-8 JSON.</summary>
    public byte[] Write()
    {
        var buffer = new ArrayBufferWriter<byte>(Wire is null ? 32 : Wire.Length + 96);
        using (var writer = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("t"u8, Kind switch
            {
                DirectFrameKind.Hello => "h"u8,
                DirectFrameKind.Ack => "a"u8,
                _ => "e"u8,
            });
            writer.WriteNumber("s"u8, Seq);
            if (Link is { } link)
            {
                writer.WriteString("l"u8, link);
            }

            if (PeerLink is { } peerLink)
            {
                writer.WriteString("p"u8, peerLink);
            }

            if (Kind == DirectFrameKind.Envelope)
            {
                if (ChatId is { } chatId)
                {
                    writer.WriteString("c"u8, chatId);
                }

                writer.WriteString("w"u8, Wire);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads a frame; null when <paramref name="utf8"/> is not one (not JSON, an unknown kind, no number, an envelope
    /// without a wire). An envelope frame whose wire is not an envelope's text is read, with its number: its place on
    /// the link counts even though what it carries is dropped.
    /// </summary>
    public static DirectFrame? Read(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            string? kind = null, wire = null;
            long? seq = null;
            Guid? chatId = null, link = null, peerLink = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "t" when reader.TokenType == JsonTokenType.String:
                        kind = reader.GetString();
                        break;
                    case "s" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) && number >= 0:
                        seq = number;
                        break;
                    case "c" when reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var chat):
                        chatId = chat;
                        break;
                    case "l" when reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var mine):
                        link = mine;
                        break;
                    case "p" when reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var yours):
                        peerLink = yours;
                        break;
                    case "w" when reader.TokenType == JsonTokenType.String:
                        wire = reader.GetString();
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (seq is not { } s)
            {
                return null;
            }

            return kind switch
            {
                "h" when link is { } l => Hello(s, l, peerLink),
                "a" => Ack(s),
                "e" when wire is not null => Envelope(s, chatId, wire),
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether the wire text looks like a sealed envelope (its prefix); the cipher checks the rest.</summary>
    public bool CarriesEnvelope => Wire is not null && Wire.StartsWith(AesGcmEnvelopeCipher.Prefix, StringComparison.Ordinal);
}

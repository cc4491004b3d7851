using System.Buffers.Binary;
using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Messages;

/// <summary>
/// An image a user's message holds: where its bytes are kept in the object store (<see cref="Key"/>; the database keeps
/// only this reference), its media type as its bytes say, its size and its pixel dimensions.
/// </summary>
public sealed record MessageImage(string Key, string MediaType, long Bytes, int Width, int Height)
{
    /// <summary>
    /// The SHA-256 of its bytes (lower-case hex), by which a conversation sent again is known to hold the same image;
    /// null for an image kept before it was recorded (its bytes are then read to compare).
    /// </summary>
    public string? Sha256 { get; init; }
}

/// <summary>
/// What an image's own bytes say it is: PNG, JPEG, WebP or GIF, read from the magic bytes and the headers (no decoding:
/// the dimensions are in the first bytes of every one of these formats, or in JPEG's start-of-frame segment).
/// </summary>
public sealed record ImageHeader(string MediaType, int Width, int Height)
{
    /// <summary>The media types taken, each read from its bytes, never from what a client declares.</summary>
    public static readonly IReadOnlyList<string> MediaTypes = ["image/png", "image/jpeg", "image/webp", "image/gif"];

    /// <summary>The image's header, or null when the bytes are none of the formats taken (or cut short).</summary>
    public static ImageHeader? Read(ReadOnlySpan<byte> data)
    {
        try
        {
            return Png(data) ?? Gif(data) ?? WebP(data) ?? Jpeg(data);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null; // a header that promises more than the bytes hold
        }
    }

    private static ImageHeader? Png(ReadOnlySpan<byte> d)
    {
        ReadOnlySpan<byte> magic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        // The first chunk is IHDR: width and height, big-endian, after its length and type.
        return d.Length >= 24 && d.StartsWith(magic) && d.Slice(12, 4).SequenceEqual("IHDR"u8)
            ? Sized("image/png", BinaryPrimitives.ReadInt32BigEndian(d.Slice(16)), BinaryPrimitives.ReadInt32BigEndian(d.Slice(20)))
            : null;
    }

    private static ImageHeader? Gif(ReadOnlySpan<byte> d) =>
        d.Length >= 10 && (d.StartsWith("GIF87a"u8) || d.StartsWith("GIF89a"u8))
            ? Sized("image/gif", BinaryPrimitives.ReadUInt16LittleEndian(d.Slice(6)), BinaryPrimitives.ReadUInt16LittleEndian(d.Slice(8)))
            : null;

    private static ImageHeader? WebP(ReadOnlySpan<byte> d)
    {
        if (d.Length < 30 || !d.StartsWith("RIFF"u8) || !d.Slice(8, 4).SequenceEqual("WEBP"u8))
        {
            return null;
        }

        var chunk = d.Slice(12, 4);
        if (chunk.SequenceEqual("VP8X"u8))
        {
            // Extended: canvas width and height less one, 24-bit little-endian.
            return Sized("image/webp", 1 + Int24(d.Slice(24)), 1 + Int24(d.Slice(27)));
        }

        if (chunk.SequenceEqual("VP8 "u8) && d[23] == 0x9D && d[24] == 0x01 && d[25] == 0x2A)
        {
            // Lossy: after the key frame's start code, 14-bit width and height.
            return Sized("image/webp", BinaryPrimitives.ReadUInt16LittleEndian(d.Slice(26)) & 0x3FFF,
                BinaryPrimitives.ReadUInt16LittleEndian(d.Slice(28)) & 0x3FFF);
        }

        if (chunk.SequenceEqual("VP8L"u8) && d[20] == 0x2F)
        {
            // Lossless: 14-bit width and height less one, packed after the signature byte.
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(d.Slice(21));
            return Sized("image/webp", (int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
        }

        return null;
    }

    private static ImageHeader? Jpeg(ReadOnlySpan<byte> d)
    {
        if (d.Length < 4 || d[0] != 0xFF || d[1] != 0xD8 || d[2] != 0xFF)
        {
            return null;
        }

        // Segments after SOI, each marker FF xx and a big-endian length, until a start-of-frame gives the size.
        var at = 2;
        while (at + 9 < d.Length)
        {
            if (d[at] != 0xFF)
            {
                return null;
            }

            var marker = d[at + 1];
            if (marker == 0xFF)
            {
                at++; // fill byte
                continue;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(d.Slice(at + 2));
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                return Sized("image/jpeg", BinaryPrimitives.ReadUInt16BigEndian(d.Slice(at + 7)),
                    BinaryPrimitives.ReadUInt16BigEndian(d.Slice(at + 5)));
            }

            if (marker == 0xDA || length < 2)
            {
                return null; // the scan began before any frame header: not an image this can read
            }

            at += 2 + length;
        }

        return null;
    }

    private static int Int24(ReadOnlySpan<byte> d) => d[0] | (d[1] << 8) | (d[2] << 16);

    private static ImageHeader? Sized(string mediaType, int width, int height) =>
        width > 0 && height > 0 ? new ImageHeader(mediaType, width, height) : null;

    /// <summary>The file extension an image of <paramref name="mediaType"/> is kept under.</summary>
    public static string Extension(string mediaType) => mediaType switch
    {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => throw new DomainException($"Images are PNG, JPEG, WebP or GIF, not '{mediaType}'.", DomainErrorKind.Invalid),
    };
}

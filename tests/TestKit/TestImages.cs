namespace MeatLizard.TestKit;

/// <summary>
/// Small images of each format the platform takes, made byte by byte: a real 1×1 PNG and GIF (decodable), and JPEG and
/// WebP files whose headers give the size (what the platform reads; nothing here decodes pixels).
/// </summary>
public static class TestImages
{
    /// <summary>A 1×1 PNG.</summary>
    public static readonly byte[] Png = Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");

    /// <summary>A 1×1 GIF.</summary>
    public static readonly byte[] Gif = Convert.FromBase64String("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");

    /// <summary>A PNG header of <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static byte[] PngOf(int width, int height)
    {
        var bytes = Png.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        return bytes;
    }

    /// <summary>A JPEG's start: SOI, an APP0 (JFIF) segment, then a baseline frame header of 3×2.</summary>
    public static readonly byte[] Jpeg =
    [
        0xFF, 0xD8,
        0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
        0xFF, 0xC0, 0x00, 0x11, 8, 0x00, 0x02, 0x00, 0x03, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        0xFF, 0xD9,
    ];

    /// <summary>A lossy WebP (VP8) of 5×4.</summary>
    public static readonly byte[] WebPLossy = Riff("VP8 ",
        [0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, 5, 0, 4, 0, 0, 0, 0, 0]);

    /// <summary>A lossless WebP (VP8L) of 7×6.</summary>
    public static readonly byte[] WebPLossless = Riff("VP8L", Lossless(7, 6));

    /// <summary>An extended WebP (VP8X) with a 300×200 canvas.</summary>
    public static readonly byte[] WebPExtended = Riff("VP8X", [0, 0, 0, 0, 0x2B, 0x01, 0x00, 0xC7, 0x00, 0x00]);

    /// <summary>An image as a <c>data:</c> URL.</summary>
    public static string DataUrl(string mediaType, byte[] bytes) => $"data:{mediaType};base64,{Convert.ToBase64String(bytes)}";

    private static byte[] Lossless(int width, int height)
    {
        var bits = (uint)(width - 1) | ((uint)(height - 1) << 14);
        return [0x2F, (byte)bits, (byte)(bits >> 8), (byte)(bits >> 16), (byte)(bits >> 24), 0, 0, 0, 0, 0];
    }

    private static byte[] Riff(string chunk, byte[] payload)
    {
        var body = new List<byte>();
        body.AddRange("WEBP"u8.ToArray());
        body.AddRange(System.Text.Encoding.ASCII.GetBytes(chunk));
        body.AddRange(BitConverter.GetBytes(payload.Length));
        body.AddRange(payload);
        var file = new List<byte>();
        file.AddRange("RIFF"u8.ToArray());
        file.AddRange(BitConverter.GetBytes(body.Count));
        file.AddRange(body);
        return [.. file];
    }
}

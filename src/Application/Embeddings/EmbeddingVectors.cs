using System.Buffers.Binary;

namespace MeatLizard.Application.Embeddings;

/// <summary>
/// A vector as text: the base64 of its 32-bit floats, little-endian — how the relay carries vectors (exact, and about a
/// third the size of JSON numbers) and what OpenAI's <c>encoding_format: "base64"</c> answers.
/// </summary>
public static class EmbeddingVectors
{
    public static string ToBase64(ReadOnlySpan<float> vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        for (var i = 0; i < vector.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        }

        return Convert.ToBase64String(bytes);
    }

    /// <summary>The vector of <paramref name="base64"/>; null when it is not base64 of whole 32-bit floats.</summary>
    public static float[]? FromBase64(string base64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return null;
        }

        if (bytes.Length % sizeof(float) != 0)
        {
            return null;
        }

        var vector = new float[bytes.Length / sizeof(float)];
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        }

        return vector;
    }
}

using System.Security.Cryptography;
using System.Text;

namespace MeatLizard.Infrastructure;

/// <summary>
/// An operator's key file: 32 random bytes, raw or base64 (<c>head -c 32 /dev/urandom &gt; FILE</c>). Every problem is a
/// <see cref="ConfigurationException"/> that names the setting the file came from.
/// </summary>
public static class SecretKeyFile
{
    public const int Length = 32;

    public static byte[] Read(string path, string setting)
    {
        if (!File.Exists(path))
        {
            throw new ConfigurationException($"{setting} '{path}' does not exist; create it with: head -c 32 /dev/urandom > '{path}'.");
        }

        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{setting} '{path}' cannot be read: {ex.Message}");
        }

        if (content.Length == Length)
        {
            return content;
        }

        var text = Encoding.ASCII.GetString(content).Trim();
        var decoded = new byte[Length + 3];
        if (Convert.TryFromBase64String(text, decoded, out var written) && written == Length)
        {
            return decoded[..Length];
        }

        throw new ConfigurationException(
            $"{setting} '{path}' must hold exactly {Length} random bytes, raw or base64 (it holds {content.Length} bytes); create one with: head -c 32 /dev/urandom > FILE.");
    }

    /// <summary>A name for the key that gives nothing of it away: the first 8 bytes of its SHA-256, in hex.</summary>
    public static string Fingerprint(ReadOnlySpan<byte> key) => Convert.ToHexStringLower(SHA256.HashData(key)[..8]);
}

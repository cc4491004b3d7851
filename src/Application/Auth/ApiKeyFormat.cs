using System.Security.Cryptography;
using System.Text;

namespace MeatLizard.Application.Auth;

/// <summary>
/// API keys look like <c>ml_&lt;prefix&gt;_&lt;secret&gt;</c>: the prefix finds the key, the secret proves it.
/// Only the SHA-256 of the whole key is stored; the secret has 256 bits of entropy, so a slow hash adds nothing.
/// </summary>
public static class ApiKeyFormat
{
    public const string Marker = "ml_";
    private const int PrefixLength = 10;

    public static (string Key, string Prefix) Generate()
    {
        var prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(PrefixLength / 2));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        return ($"{Marker}{prefix}_{secret}", prefix);
    }

    public static bool LooksLikeKey(string? value) => value is not null && value.StartsWith(Marker, StringComparison.Ordinal);

    public static string? PrefixOf(string key)
    {
        if (!LooksLikeKey(key) || key.Length < Marker.Length + PrefixLength + 2 || key[Marker.Length + PrefixLength] != '_')
        {
            return null;
        }

        return key.Substring(Marker.Length, PrefixLength);
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static bool Matches(string key, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(key)), Encoding.ASCII.GetBytes(storedHash));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.ObjectStorage;

/// <summary>
/// Download links for the file-system store: the API's download route (<see cref="RoutePath"/>) with the key, the
/// file name and the expiry signed by HMAC-SHA-256, so the link alone grants that one download until it expires. The
/// signing key is <c>ObjectStore:LinkKey</c> (base64, 32 bytes) or, when unset, random for this process — links then
/// stop working when the process restarts, which suits embedded mode's single process.
/// </summary>
public sealed class FileSystemObjectLinks(byte[] signingKey, IClock clock) : IObjectLinks
{
    public const string RoutePath = "/api/v1/objects/download";

    private readonly byte[] _signingKey = signingKey is { Length: >= 16 }
        ? signingKey
        : throw new ArgumentException("The link signing key must be at least 16 bytes.", nameof(signingKey));

    public Task<ObjectLink> CreateDownloadLinkAsync(
        string key, string fileName, TimeSpan validFor, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        cancellationToken.ThrowIfCancellationRequested();
        var expires = clock.UtcNow.Add(validFor).ToUnixTimeSeconds();
        var url = $"{RoutePath}?key={Uri.EscapeDataString(key)}&name={Uri.EscapeDataString(fileName)}"
                  + $"&expires={expires.ToString(CultureInfo.InvariantCulture)}&signature={Sign(key, fileName, expires)}";
        return Task.FromResult(new ObjectLink(url, DateTimeOffset.FromUnixTimeSeconds(expires)));
    }

    /// <summary>True when the signature is ours for these values and the link has not expired.</summary>
    public bool IsValid(string key, string fileName, long expires, string signature)
    {
        if (string.IsNullOrEmpty(key) || string.IsNullOrEmpty(fileName) || string.IsNullOrEmpty(signature)
            || clock.UtcNow.ToUnixTimeSeconds() > expires)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(key, fileName, expires));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature));
    }

    private string Sign(string key, string fileName, long expires)
    {
        var payload = Encoding.UTF8.GetBytes($"{key}\n{fileName}\n{expires.ToString(CultureInfo.InvariantCulture)}");
        return Base64Url(HMACSHA256.HashData(_signingKey, payload));
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

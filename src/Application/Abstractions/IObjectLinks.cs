
namespace MeatLizard.Application.Abstractions;

/// <summary>A link that downloads one object without other credentials until <see cref="ExpiresAt"/>.</summary>
public sealed record ObjectLink(string Url, DateTimeOffset ExpiresAt);

/// <summary>
/// Time-limited download links for stored objects: presigned URLs for S3; for the file-system store, a signed link to
/// the API's download route (a path relative to the API's base address).
/// </summary>
public interface IObjectLinks
{
    /// <summary><paramref name="fileName"/> is what a browser saves the download as.</summary>
    Task<ObjectLink> CreateDownloadLinkAsync(
        string key, string fileName, TimeSpan validFor, CancellationToken cancellationToken);
}

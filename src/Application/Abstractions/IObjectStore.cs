
namespace MeatLizard.Application.Abstractions;

public interface IObjectStore
{
    Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken);

    /// <summary>Null when there is no such object.</summary>
    Task<Stream?> GetAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);
}

using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.ObjectStorage;

/// <summary>Section "ObjectStore" when <c>ObjectStore:Provider</c> is <c>FileSystem</c>.</summary>
public sealed class FileSystemObjectStoreOptions
{
    /// <summary>The directory that holds the objects; the host defaults it to <c>&lt;Data:Root&gt;/objects</c>.</summary>
    public string Root { get; set; } = Path.Combine("data", "objects");
}

/// <summary>
/// Objects as files under a root directory. A key is a '/'-separated relative path; keys that could leave the root
/// are refused. A write goes to a temporary file beside the target and is then renamed over it, so a crash leaves
/// either the old object or the new one, never half of one. The file system keeps no content type, so it is not stored.
/// </summary>
public sealed class FileSystemObjectStore(IOptions<FileSystemObjectStoreOptions> options) : IObjectStore
{
    /// <summary>Temporary files start with this; keys may not, so a listing never shows a write in progress.</summary>
    internal const string TempPrefix = ".partial-";

    private const int BufferSize = 81_920;

    private readonly string _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Value.Root));

    private string RootWithSeparator => Path.EndsInDirectorySeparator(_root) ? _root : _root + Path.DirectorySeparatorChar;

    public async Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = PathFor(key);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);

        var temp = Path.Combine(directory, $"{TempPrefix}{Guid.NewGuid():N}");
        try
        {
            await using (var file = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                BufferSize = BufferSize,
            }))
            {
                await content.CopyToAsync(file, BufferSize, cancellationToken);
                await file.FlushAsync(cancellationToken);

                // Make the bytes durable before the rename publishes them.
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public Task<Stream?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathFor(key);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            Stream stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,

                // A reader must not stop a writer from replacing or a caller from deleting the object.
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = BufferSize,
            });
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathFor(key);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        // Empty directories are left in place: removing them could race with a concurrent write beneath them.
        File.Delete(path);
        return Task.FromResult(true);
    }

    public async IAsyncEnumerable<string> ListAsync(
        string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ValidatePrefix(prefix);

        // Only the directory the prefix fully names needs walking; the rest of the prefix filters names in it.
        var lastSlash = prefix.LastIndexOf('/');
        var start = lastSlash < 0 ? _root : Path.Combine(_root, prefix[..lastSlash].Replace('/', Path.DirectorySeparatorChar));
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var keys = new List<string>();
        foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Path.GetFileName(file).StartsWith(TempPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                keys.Add(key);
            }
        }

        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return key;
        }
    }

    /// <summary>The file for a key, after checking that the key stays inside the root.</summary>
    internal string PathFor(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0)
        {
            throw new ArgumentException("An object key may not be empty.", nameof(key));
        }

        foreach (var segment in key.Split('/'))
        {
            ValidateSegment(segment, key, nameof(key));
        }

        var path = Path.GetFullPath(Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar)));
        if (!path.StartsWith(RootWithSeparator, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The object key '{key}' leaves the store's root.", nameof(key));
        }

        return path;
    }

    private static void ValidatePrefix(string prefix)
    {
        if (prefix.Length == 0)
        {
            return;
        }

        var segments = prefix.Split('/');

        // The last segment may be partial (or empty after a trailing '/'); the ones before must be whole, valid names.
        for (var i = 0; i < segments.Length; i++)
        {
            var last = i == segments.Length - 1;
            if (last && segments[i].Length == 0)
            {
                continue;
            }

            ValidateSegment(segments[i], prefix, nameof(prefix));
        }
    }

    private static void ValidateSegment(string segment, string value, string parameter)
    {
        if (segment.Length == 0)
        {
            throw new ArgumentException($"'{value}' has an empty path segment or starts or ends with '/'.", parameter);
        }

        if (segment is "." or "..")
        {
            throw new ArgumentException($"'{value}' may not contain '.' or '..' segments.", parameter);
        }

        if (segment.StartsWith(TempPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{value}' uses the reserved name prefix '{TempPrefix}'.", parameter);
        }

        if (segment.Contains('\\', StringComparison.Ordinal) || segment.Contains(':', StringComparison.Ordinal)
            || segment.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || segment.Any(char.IsControl))
        {
            throw new ArgumentException($"'{value}' contains a character not allowed in an object key.", parameter);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a stray temporary file is invisible to readers and harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

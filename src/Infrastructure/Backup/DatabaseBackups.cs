using System.Globalization;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Backups;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// Backups as objects: <c>backups/{provider}/{yyyyMMddTHHmmssfffZ}.{ext}.enc</c> (sealed with the backup key, see
/// <see cref="BackupKey"/>; without <c>Backup:KeyFile</c> the dump is stored as it is, without <c>.enc</c>, and a warning
/// says so) plus <c>….sha256</c> of the stored object beside it. The time in the name is what retention sorts by, so the
/// object store needs no metadata. Files pass through a temporary directory only this user can open, deleted
/// afterwards.
/// </summary>
internal sealed partial class DatabaseBackups(
    IDatabaseDump dump,
    IObjectStore objects,
    TimeProvider clock,
    IOptions<BackupOptions> options,
    BackupSealing sealing,
    ILogger<DatabaseBackups> logger) : IDatabaseBackups
{
    private const string StampFormat = "yyyyMMdd'T'HHmmssfff'Z'";
    private const string ChecksumSuffix = ".sha256";
    private const string SealedSuffix = ".enc";

    private string Folder => $"backups/{dump.Provider}/";

    public async Task<BackupDto> CreateAsync(CancellationToken cancellationToken)
    {
        var createdAt = clock.GetUtcNow();
        var name = createdAt.UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture) + "." + dump.Extension;
        var work = NewWorkDirectory();
        try
        {
            var file = Path.Combine(work, name);
            await dump.DumpAsync(file, cancellationToken);
            if (sealing.Key is { } backupKey)
            {
                var plain = file;
                name += SealedSuffix;
                file = Path.Combine(work, name);
                await using (var source = File.OpenRead(plain))
                await using (var target = File.Create(file))
                {
                    await backupKey.SealAsync(source, target, cancellationToken);
                }

                File.Delete(plain);
            }
            else
            {
                LogUnsealed(BackupKey.Setting);
            }

            var key = Folder + name;
            var sha256 = await Sha256Hex.OfFileAsync(file, cancellationToken);
            var size = new FileInfo(file).Length;
            await using (var content = File.OpenRead(file))
            {
                await objects.PutAsync(key, content, "application/octet-stream", cancellationToken);
            }

            await using (var checksum = new MemoryStream(Encoding.ASCII.GetBytes(Sha256Hex.Line(sha256, name))))
            {
                await objects.PutAsync(key + ChecksumSuffix, checksum, "text/plain", cancellationToken);
            }

            LogCreated(key, size);
            await PruneAsync(cancellationToken);
            return new BackupDto(key, createdAt, size, sha256);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    public async Task<IReadOnlyList<BackupDto>> ListAsync(CancellationToken cancellationToken)
    {
        var backups = new List<BackupDto>();
        foreach (var key in await BackupKeysAsync(cancellationToken))
        {
            var checksum = await ReadChecksumAsync(key, cancellationToken);
            backups.Add(new BackupDto(key, CreatedAt(key)!.Value, -1, checksum ?? ""));
        }

        return backups.OrderByDescending(b => b.CreatedAt).ToList();
    }

    public async Task RestoreAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var work = NewWorkDirectory();
        try
        {
            var file = Path.Combine(work, "stored");
            await using (var content = await objects.GetAsync(key, cancellationToken)
                ?? throw new InvalidDataException($"There is no backup '{key}' in the object store."))
            {
                await using var target = File.Create(file);
                await content.CopyToAsync(target, cancellationToken);
            }

            var expected = await ReadChecksumAsync(key, cancellationToken)
                ?? throw new InvalidDataException($"The backup '{key}' has no checksum ({key}{ChecksumSuffix}); it is not restored.");
            var actual = await Sha256Hex.OfFileAsync(file, cancellationToken);
            if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException(
                    $"The backup '{key}' does not match its checksum (expected {expected}, got {actual}); it is not restored.");
            }

            await dump.RestoreAsync(await OpenedAsync(key, file, cancellationToken), cancellationToken);
            LogRestored(key);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The dump a stored backup holds: the file itself when it was stored unsealed, else its plaintext.</summary>
    private async Task<string> OpenedAsync(string key, string file, CancellationToken cancellationToken)
    {
        if (!key.EndsWith(SealedSuffix, StringComparison.Ordinal) && !await BackupKey.IsSealedAsync(file, cancellationToken))
        {
            return file;
        }

        var backupKey = sealing.Key ?? throw new InvalidDataException(
            $"The backup '{key}' is encrypted: set {BackupKey.Setting} to the key file it was made with; it is not restored.");
        var plain = Path.Combine(Path.GetDirectoryName(file)!, "dump." + dump.Extension);
        await using (var source = File.OpenRead(file))
        await using (var target = File.Create(plain))
        {
            await backupKey.OpenAsync(source, target, key, cancellationToken);
        }

        return plain;
    }

    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var expired = BackupRetention.SelectExpired(
            await BackupKeysAsync(cancellationToken), key => CreatedAt(key)!.Value, settings.KeepDaily, settings.KeepWeekly);
        foreach (var key in expired)
        {
            await objects.DeleteAsync(key, cancellationToken);
            await objects.DeleteAsync(key + ChecksumSuffix, cancellationToken);
            LogPruned(key);
        }
    }

    private async Task<List<string>> BackupKeysAsync(CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var key in objects.ListAsync(Folder, cancellationToken))
        {
            if ((key.EndsWith("." + dump.Extension, StringComparison.Ordinal)
                 || key.EndsWith("." + dump.Extension + SealedSuffix, StringComparison.Ordinal))
                && CreatedAt(key) is not null)
            {
                keys.Add(key);
            }
        }

        return keys;
    }

    private async Task<string?> ReadChecksumAsync(string key, CancellationToken cancellationToken)
    {
        await using var stream = await objects.GetAsync(key + ChecksumSuffix, cancellationToken);
        if (stream is null)
        {
            return null;
        }

        using var reader = new StreamReader(stream, Encoding.ASCII);
        var line = await reader.ReadLineAsync(cancellationToken);
        return line?.Split(' ', 2)[0].Trim();
    }

    private static DateTimeOffset? CreatedAt(string key)
    {
        var stamp = Path.GetFileNameWithoutExtension(
            key.EndsWith(SealedSuffix, StringComparison.Ordinal) ? key[..^SealedSuffix.Length] : key);
        return DateTime.TryParseExact(stamp, StampFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? new DateTimeOffset(at, TimeSpan.Zero)
            : null;
    }

    private static string NewWorkDirectory()
    {
        // The plaintext dump passes through it: only this user may open it, whatever the process's umask.
        var directory = Path.Combine(Path.GetTempPath(), "meatlizard-backup-" + Guid.NewGuid().ToString("N"));
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return directory;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {Key} stored ({Bytes} bytes)")]
    private partial void LogCreated(string key, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This backup is stored UNENCRYPTED: anyone who can read the object store can read every chat in it. Set {Setting} to a file of 32 random bytes (head -c 32 /dev/urandom > FILE), kept away from the server, to encrypt backups")]
    private partial void LogUnsealed(string setting);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backup {Key} deleted by the retention rules")]
    private partial void LogPruned(string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database restored from backup {Key}")]
    private partial void LogRestored(string key);
}

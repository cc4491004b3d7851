using System.Globalization;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The relay's place in each Discord channel it reads: the last message handled, every one before it handled too.
/// A message counts as handled once what it carried was stored or acted on (<see cref="RelayDelivery.Handled"/>), not
/// when it was read, so a place never moves past work that a crash would lose. Places are written to the
/// <see cref="IRelayCursorStore"/> in the background, a few at a time.
/// </summary>
public sealed partial class DiscordChannelCursors(IRelayCursorStore store, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ChannelPlace> _channels = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly HashSet<string> _gone = new(StringComparer.Ordinal);

    /// <summary>The places as stored when the relay started.</summary>
    public Task<IReadOnlyDictionary<string, ulong>> ReadStoredAsync(CancellationToken cancellationToken) =>
        store.ReadAllAsync(cancellationToken);

    /// <summary>A message read whose work is still to do: its channel's place stays before it until it is handled.</summary>
    public RelayDelivery Read(string channelId, ulong messageId, bool caughtUp)
    {
        lock (_lock)
        {
            var place = PlaceOf(channelId);
            place.Unhandled.Add(messageId);
            place.Highest = Math.Max(place.Highest, messageId);
        }

        return new Delivery(this, channelId, messageId) { CaughtUp = caughtUp };
    }

    /// <summary>A message that needed no work (ours, ignored, given up): handled as it is read.</summary>
    public void ReadAndHandled(string channelId, ulong messageId) => Handled(channelId, messageId, read: true);

    /// <summary>A channel that is gone (deleted, or no longer readable): its place is dropped, so it is not read again.</summary>
    public void Forget(string channelId)
    {
        lock (_lock)
        {
            _channels.Remove(channelId);
            _gone.Add(channelId);
        }

        Signal();
    }

    /// <summary>Writes the places that moved, until stopped; a last write on the way out.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(cancellationToken);
                await SaveMovedAsync(cancellationToken);
                // Places move with every message: gathering a moment's worth keeps it to a few writes a second.
                await Task.Delay(SaveInterval, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The places stay marked as moved and are written with the next ones; until then a restart reads a
                // few messages again, which the relay recognises as seen.
                LogSaveFailed(logger, ex);
                await Task.Delay(SaveInterval * 10, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                Signal();
            }
        }

        try
        {
            using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SaveMovedAsync(last.Token);
        }
        catch (Exception ex)
        {
            LogSaveFailed(logger, ex);
        }
    }

    /// <summary>Writes every place that moved since it was last written.</summary>
    public async Task SaveMovedAsync(CancellationToken cancellationToken)
    {
        Dictionary<string, ulong> moved;
        string[] gone;
        lock (_lock)
        {
            moved = _channels.Where(c => c.Value.Safe > c.Value.Saved)
                .ToDictionary(c => c.Key, c => c.Value.Safe, StringComparer.Ordinal);
            gone = [.. _gone];
        }

        if (gone.Length > 0)
        {
            await store.ForgetAsync(gone, cancellationToken);
            lock (_lock)
            {
                _gone.ExceptWith(gone);
            }
        }

        if (moved.Count == 0)
        {
            return;
        }

        await store.SaveAsync(moved, cancellationToken);
        lock (_lock)
        {
            foreach (var (channelId, saved) in moved)
            {
                var place = PlaceOf(channelId);
                place.Saved = Math.Max(place.Saved, saved);
            }
        }
    }

    private void Handled(string channelId, ulong messageId, bool read)
    {
        bool moved;
        lock (_lock)
        {
            var place = PlaceOf(channelId);
            if (read)
            {
                place.Highest = Math.Max(place.Highest, messageId);
            }

            place.Unhandled.Remove(messageId);
            moved = place.Safe > place.Saved;
        }

        if (moved)
        {
            Signal();
        }
    }

    private void Signal()
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread signalled first: one wake-up is enough.
            }
        }
    }

    private ChannelPlace PlaceOf(string channelId)
    {
        if (!_channels.TryGetValue(channelId, out var place))
        {
            _channels[channelId] = place = new ChannelPlace();
        }

        return place;
    }

    private static readonly TimeSpan SaveInterval = TimeSpan.FromMilliseconds(200);

    private sealed class ChannelPlace
    {
        public SortedSet<ulong> Unhandled { get; } = [];

        public ulong Highest { get; set; }

        public ulong Saved { get; set; }

        /// <summary>Everything up to here was handled: just before the oldest message still being worked on.</summary>
        public ulong Safe => Unhandled.Count == 0 ? Highest : Unhandled.Min - 1;
    }

    private sealed class Delivery(DiscordChannelCursors cursors, string channelId, ulong messageId) : RelayDelivery
    {
        public override void Handled() => cursors.Handled(channelId, messageId, read: false);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not store the relay's place in its Discord channels; trying again")]
    private static partial void LogSaveFailed(ILogger logger, Exception exception);
}

/// <summary>The server bot's places, in its database (one short scope per read or write: the caller is a singleton).</summary>
public sealed class DatabaseRelayCursorStore(IServiceScopeFactory scopes) : IRelayCursorStore
{
    public async Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>().ReadAllAsync(cancellationToken);
    }

    public async Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>().SaveAsync(lastHandled, cancellationToken);
    }

    public async Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>().ForgetAsync(channelIds, cancellationToken);
    }
}

/// <summary>
/// The client bot's places (it has no database): a small JSON file under its data folder, replaced whole on each write
/// (written beside it, then renamed over it), so a crash leaves the old file or the new one, never half of one.
/// </summary>
public sealed class FileRelayCursorStore(string path) : IRelayCursorStore
{
    private readonly SemaphoreSlim _writing = new(1, 1);

    public string Path { get; } = path;

    public async Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
        {
            return new Dictionary<string, ulong>(StringComparer.Ordinal);
        }

        await using var file = File.OpenRead(Path);
        var stored = await JsonSerializer.DeserializeAsync<Dictionary<string, string>>(file, cancellationToken: cancellationToken)
            ?? throw new InvalidDataException($"The relay's channel places in {Path} are not a JSON object.");
        return stored.ToDictionary(p => p.Key, p => ulong.Parse(p.Value, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    public Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lastHandled);
        return RewriteAsync(places =>
        {
            foreach (var (channelId, messageId) in lastHandled)
            {
                places[channelId] = places.TryGetValue(channelId, out var stored) ? Math.Max(stored, messageId) : messageId;
            }
        }, cancellationToken);
    }

    public Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channelIds);
        return RewriteAsync(places =>
        {
            foreach (var channelId in channelIds)
            {
                places.Remove(channelId);
            }
        }, cancellationToken);
    }

    private async Task RewriteAsync(Action<Dictionary<string, ulong>> change, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            var places = new Dictionary<string, ulong>(await ReadAllAsync(cancellationToken), StringComparer.Ordinal);
            change(places);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            var written = Path + ".new";
            await using (var file = new FileStream(written, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                // Snowflakes as strings, as Discord writes them.
                await JsonSerializer.SerializeAsync(file,
                    places.ToDictionary(p => p.Key, p => p.Value.ToString(CultureInfo.InvariantCulture)),
                    cancellationToken: cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(written, Path, overwrite: true);
        }
        finally
        {
            _writing.Release();
        }
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// Turns the other bots' messages into relay packets, in the order Discord delivered them. Only messages from the
/// bots it reads (<see cref="DiscordRelayPeers"/>), in a relay channel, holding <c>ML1.</c> text or an envelope file are passed on; everything else is
/// ignored and counted. The envelope itself (tag, key, freshness, replay, session) is checked by the cipher later.
/// Gateway events are only queued here, so the gateway loop is never held up by a download.
/// On start and on every new gateway session it reads, over REST, what was posted since the last message it handled in
/// each channel (<see cref="DiscordChannelCursors"/>, kept across restarts): the gateway never delivers those.
/// </summary>
public sealed partial class DiscordRelayInbox(
    DiscordRestClient rest,
    DiscordRelayChannels channels,
    DiscordIgnoredMessages ignored,
    DiscordOptions options,
    DiscordSelf self,
    DiscordRelayPeers peers,
    DiscordChannelCursors cursors,
    ILogger logger,
    DiscordRelayListening? listening = null) : IDiscordEventHandler
{
    public const string EnvelopeFileName = "envelope.ml1";

    private readonly Channel<GatewayDispatch> _events = Channel.CreateUnbounded<GatewayDispatch>(
        new UnboundedChannelOptions { SingleReader = true });

    private readonly Channel<RelayPacket> _packets = Channel.CreateUnbounded<RelayPacket>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private readonly ConcurrentDictionary<string, SeenMessages> _seen = new();

    /// <summary>
    /// A snowflake for when this process started: where a channel is read from when no place was ever stored (the
    /// first start with this store).
    /// </summary>
    private readonly ulong _startedAt = Snowflake(DateTimeOffset.UtcNow);
    private int _started;

    /// <summary>The places stored by earlier runs, read once, at the first catch-up.</summary>
    private IReadOnlyDictionary<string, ulong>? _stored;

    /// <summary>Messages fetched over REST after a new gateway session, because the gateway never delivered them.</summary>
    public int CaughtUp => _caughtUp;


    private int _caughtUp;

    /// <summary>The relay channels whose messages seen are remembered (a deleted channel's are dropped).</summary>
    public int ChannelsRemembered => _seen.Count;

    public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken)
    {
        if (dispatch.Type == "CHANNEL_CREATE")
        {
            channels.Learn(dispatch.Data.Deserialize<DiscordChannel>(DiscordJson.Options)!);
            return ValueTask.CompletedTask;
        }

        if (dispatch.Type == "CHANNEL_UPDATE")
        {
            // E.g. archived: moved out of the category, so no longer a relay channel.
            var changed = dispatch.Data.Deserialize<DiscordChannel>(DiscordJson.Options)!;
            channels.Forget(changed.Id);
            channels.Learn(changed);
            return ValueTask.CompletedTask;
        }

        if (dispatch.Type == "CHANNEL_DELETE" && dispatch.Data.TryGetProperty("id", out var id))
        {
            channels.Forget(id.GetString()!);
            cursors.Forget(id.GetString()!);
            _seen.TryRemove(id.GetString()!, out _);
            return ValueTask.CompletedTask;
        }

        if (dispatch.Type == "READY")
        {
            // The first session, or a new one (not a resume): whatever was sent while we had none was never delivered.
            // Catch up over REST from the last message handled.
            return _events.Writer.WriteAsync(dispatch, cancellationToken);
        }

        return dispatch.Type == "MESSAGE_CREATE" ? _events.Writer.WriteAsync(dispatch, cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>The packets, for the transport's single reader. Starts the processing loop on first use.</summary>
    public IAsyncEnumerable<RelayPacket> ReadAllAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(() => ProcessAsync(cancellationToken), cancellationToken);
            _ = Task.Run(() => cursors.RunAsync(cancellationToken), CancellationToken.None);
        }

        return _packets.Reader.ReadAllAsync(cancellationToken);
    }

    private async Task ProcessAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var dispatch in _events.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    if (dispatch.Type == "READY")
                    {
                        try
                        {
                            await CatchUpAsync(cancellationToken);
                        }
                        finally
                        {
                            // Caught up, or not (its failure is logged): the gateway delivers from now on either way.
                            listening?.Began();
                        }
                    }
                    else if (DiscordRestClient.ReadMessage(dispatch.Data) is { } message)
                    {
                        // Noted here in the order Discord sent them; opened (an attachment downloaded, perhaps slowly,
                        // with retries) in the channel's own lane, so one channel's slow download holds up no other.
                        // A message that cannot be read (no id, channel or author; text that is not valid Unicode) is
                        // not a relay envelope, as a catch-up's page skips it.
                        if (await NoteAsync(message, caughtUp: false, cancellationToken) is { } noted)
                        {
                            InChannelLane(message.ChannelId, () => DeliverAsync(message, noted.Delivery, cancellationToken));
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Passes on a message read by a catch-up; false when it was seen already.</summary>
    private async Task<bool> AcceptAsync(DiscordMessage message, CancellationToken cancellationToken)
    {
        if (await NoteAsync(message, caughtUp: true, cancellationToken) is not { } noted)
        {
            return false;
        }

        await DeliverAsync(message, noted.Delivery, cancellationToken);
        return true;
    }

    /// <summary>Null for a message of a relay channel seen already; else its place in the channel (relay channels only).</summary>
    private async Task<(RelayDelivery? Delivery, bool Fresh)?> NoteAsync(DiscordMessage message, bool caughtUp, CancellationToken cancellationToken)
    {
        // Places are kept for relay channels only: other channels are never read back.
        if (!(await channels.DescribeAsync(message.ChannelId, cancellationToken)).IsRelay)
        {
            return (null, true);
        }

        // Seen already: delivered again after a resume, or read again by a catch-up.
        var id = ulong.Parse(message.Id, System.Globalization.CultureInfo.InvariantCulture);
        if (!_seen.GetOrAdd(message.ChannelId, _ => new SeenMessages(0)).Note(id))
        {
            return null;
        }

        return (cursors.Read(message.ChannelId, id, caughtUp), true);
    }

    /// <summary>Runs <paramref name="work"/> after the work queued before it for the same channel (and alongside other channels').</summary>
    private void InChannelLane(string channelId, Func<Task> work)
    {
        lock (_channelLanes)
        {
            var previous = _channelLanes.GetValueOrDefault(channelId) ?? Task.CompletedTask;
            var next = previous.ContinueWith(_ => work(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            _channelLanes[channelId] = next;
            _ = next.ContinueWith(_ =>
            {
                lock (_channelLanes)
                {
                    if (_channelLanes.TryGetValue(channelId, out var last) && last == next)
                    {
                        _channelLanes.Remove(channelId);
                    }
                }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    private readonly Dictionary<string, Task> _channelLanes = [];

    private async Task DeliverAsync(DiscordMessage message, RelayDelivery? delivery, CancellationToken cancellationToken)
    {
        try
        {
            await OpenAsync(message, delivery, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task OpenAsync(DiscordMessage message, RelayDelivery? delivery, CancellationToken cancellationToken)
    {
        if (await ToPacketAsync(message, cancellationToken) is { } packet)
        {
            // Its channel's place moves past it once what it carries is stored or acted on.
            await _packets.Writer.WriteAsync(packet with { Delivery = delivery }, cancellationToken);
        }
        else
        {
            delivery?.Handled(); // ours, ignored or given up (each logged and counted): nothing more to do
        }
    }

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        if (_stored is null)
        {
            _stored = await cursors.ReadStoredAsync(cancellationToken);
            foreach (var (channelId, handled) in _stored)
            {
                _seen.GetOrAdd(channelId, _ => new SeenMessages(handled)).RaiseFloor(handled);
            }
        }

        // A relay channel with no place stored was made after the last message handled anywhere (the bot would have
        // handled its messages, and stored a place, had it been running): read it from there. With nothing stored at
        // all (the first start), from the start of this process. A channel read before is read again from a little
        // before the newest message seen (SeenMessages.ReorderWindow): one posted earlier may not have been delivered
        // yet when the session ended; those seen already are skipped.
        var horizon = _stored.Count > 0 ? _stored.Values.Max() : _startedAt;
        var since = new Dictionary<string, ulong>();
        foreach (var channel in await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken))
        {
            if (channels.Learn(channel).IsRelay)
            {
                since[channel.Id] = _seen.TryGetValue(channel.Id, out var seen) ? seen.CatchUpFrom : horizon;
            }
        }

        // Channels deleted or archived (closed chats) meanwhile are not read, and their places are dropped.
        foreach (var channelId in _seen.Keys.Where(id => !since.ContainsKey(id)))
        {
            _seen.TryRemove(channelId, out _);
            cursors.Forget(channelId);
        }

        foreach (var (channelId, last) in since)
        {
            try
            {
                // Page forward: Discord gives at most 100 at a time, the ones right after `after`, so a full page means
                // there may be more. A message that cannot be read is skipped (the client logs it), not read for ever.
                var after = last;
                DiscordMessagePage missed;
                do
                {
                    missed = await rest.ListMessagesAsync(channelId, MissedPageSize,
                        after.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
                    foreach (var message in missed.Messages.OrderBy(m => ulong.Parse(m.Id, System.Globalization.CultureInfo.InvariantCulture)))
                    {
                        if (await AcceptAsync(message, cancellationToken))
                        {
                            Interlocked.Increment(ref _caughtUp);
                        }
                    }

                    after = Math.Max(after, missed.NewestId ?? after);
                }
                while (missed.Count == MissedPageSize);
            }
            catch (DiscordApiException ex) when (ex is DiscordNotFoundException or DiscordForbiddenException)
            {
                // Deleted while we were away (closed chats' channels are reclaimed): not read again.
                _seen.TryRemove(channelId, out _);
                cursors.Forget(channelId);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One channel that cannot be read (Discord failing past the retries, a page that makes no sense) holds
                // up no other channel's catch-up. What it missed is covered as any lost message is: a request no host
                // acknowledged is dispatched again, an answer that never came times out.
                LogCatchUpFailed(logger, channelId, ex);
            }
        }
    }

    private async Task<RelayPacket?> ToPacketAsync(DiscordMessage message, CancellationToken cancellationToken)
    {
        if (message.Author.Id == self.UserId)
        {
            return null; // Our own message echoed back: not news, not counted.
        }

        if (message.WebhookId is not null || !peers.Accepts(message.Author.Id))
        {
            if (peers.SharesChannelsWithOtherBots && message.WebhookId is null
                && await channels.DescribeAsync(message.ChannelId, cancellationToken) is { IsRelay: true, Members: { } members }
                && members.Contains(message.Author.Id))
            {
                // Another client bot, let into this channel by the server bot: it talks to the server bot, not to us.
                ignored.RecordQuietly(IgnoredMessageReason.OtherRelayBot, message.Id, message.ChannelId);
                return null;
            }

            return Ignore(IgnoredMessageReason.ForeignAuthor, message);
        }

        var channel = await channels.DescribeAsync(message.ChannelId, cancellationToken);
        if (!channel.IsRelay)
        {
            return Ignore(IgnoredMessageReason.ForeignChannel, message);
        }

        string wire;
        if (message.Content.StartsWith(AesGcmEnvelopeCipher.Prefix, StringComparison.Ordinal))
        {
            wire = message.Content;
        }
        else if (message.Content.Length == 0 && message.Attachments is [{ Filename: EnvelopeFileName } attachment])
        {
            if (await DownloadAsync(message, attachment, cancellationToken) is not { } downloaded)
            {
                return null;
            }

            wire = downloaded;

            if (!wire.StartsWith(AesGcmEnvelopeCipher.Prefix, StringComparison.Ordinal))
            {
                return Ignore(IgnoredMessageReason.NotAnEnvelope, message);
            }
        }
        else
        {
            return Ignore(IgnoredMessageReason.NotAnEnvelope, message);
        }

        if (channel.ChatId is { } chatId)
        {
            channels.Remember(chatId, channel.ChannelId);
        }

        return new RelayPacket(channel.ChatId, wire);
    }

    /// <summary>
    /// The envelope file's text. A download that fails (the CDN answering 5xx, a dropped connection) is tried again
    /// with growing pauses before the envelope is given up — logged and counted, never silent: it may carry an answer.
    /// A file over the size limit is given up at once.
    /// </summary>
    private async Task<string?> DownloadAsync(DiscordMessage message, DiscordAttachment attachment, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Encoding.UTF8.GetString(
                    await rest.DownloadAttachmentAsync(attachment, options.MaxAttachmentBytes, cancellationToken));
            }
            catch (Exception ex) when (attempt < DownloadAttempts && MayPass(ex, cancellationToken))
            {
                await Task.Delay(DownloadPause * (1 << (attempt - 1)), cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidDataException || MayPass(ex, cancellationToken))
            {
                ignored.Increment(IgnoredMessageReason.BadAttachment);
                LogGivenUp(logger, message.Id, message.ChannelId, attempt);
                return null;
            }
        }
    }

    /// <summary>A dropped connection, a timeout, a 5xx or a 429: worth another try, unlike a 4xx or an oversized file.</summary>
    private static bool MayPass(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: { } status } => (int)status >= 500 || status == HttpStatusCode.TooManyRequests,
        TaskCanceledException => !cancellationToken.IsCancellationRequested, // the HTTP client's own timeout
        _ => false,
    };

    /// <summary>Tries of an envelope file's download: pauses of 0.5, 1, 2, 4 and 8 s between them, about 15 s in all.</summary>
    internal const int DownloadAttempts = 6;

    private static readonly TimeSpan DownloadPause = TimeSpan.FromMilliseconds(500);

    private const int MissedPageSize = 100;

    private static ulong Snowflake(DateTimeOffset time) =>
        (ulong)Math.Max(0, time.ToUnixTimeMilliseconds() - 1_420_070_400_000) << 22;

    private RelayPacket? Ignore(IgnoredMessageReason reason, DiscordMessage message)
    {
        ignored.Record(reason, message.Id, message.ChannelId);
        return null;
    }

    /// <summary>
    /// Sends wire text to a channel: as the message text when it fits in 2,000 characters, else as a file. The
    /// nonce is derived from the wire text, so a retried send of the same envelope is never posted twice.
    /// </summary>
    public static Task<DiscordMessage> PostAsync(DiscordRestClient rest, string channelId, string wire, CancellationToken cancellationToken)
    {
        var nonce = DiscordRestClient.NonceOf(wire);
        return wire.Length <= DiscordRestClient.MaxContentLength
            ? rest.CreateMessageAsync(channelId, wire, nonce: nonce, cancellationToken: cancellationToken)
            : rest.CreateMessageAsync(channelId, null, new DiscordFile(EnvelopeFileName, Encoding.UTF8.GetBytes(wire)), nonce,
                cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Gave up the envelope file of Discord message {MessageId} in channel {ChannelId} after {Attempts} tries")]
    private static partial void LogGivenUp(ILogger logger, string messageId, string channelId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Catching up with relay channel {ChannelId} failed; the other channels are still read")]
    private static partial void LogCatchUpFailed(ILogger logger, string channelId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "A Discord relay message could not be read")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

/// <summary>
/// When the relay inbox's first gateway session had caught up with what was posted before it: from then on, what the
/// other side sends arrives (<see cref="IRelayListening"/>). Apart from the inbox, which needs the REST client, which
/// notes the transport's health, which asks this.
/// </summary>
public sealed class DiscordRelayListening : IRelayListening
{
    private long _since;

    public DateTimeOffset? Since => Interlocked.Read(ref _since) is > 0 and var at ? new DateTimeOffset(at, TimeSpan.Zero) : null;

    /// <summary>
    /// A client bot's calls met the outage too and back off between attempts: its first heartbeat after the outage may
    /// come a whole back-off after Discord is back.
    /// </summary>
    public TimeSpan HostsCatchUp => DiscordRestClient.LongestBackoff;

    public void Began() => Interlocked.CompareExchange(ref _since, DateTimeOffset.UtcNow.UtcTicks, 0);
}

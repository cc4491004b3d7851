using System.Globalization;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The server bot archives or deletes a chat's channel (<see cref="DiscordOptions.ClosedChannels"/>) as soon as the
/// chat is closed: a close in this process (e.g. <c>/session close</c>, or an API on the same relay) signals it at once;
/// chats closed elsewhere or while the bot was down are found by a sweep at start and every
/// <see cref="DiscordOptions.ClosedChannelSweepInterval"/>. Archiving locks the channel (both bots may still read it,
/// neither may write; everyone else stays shut out) and moves it to <see cref="DiscordOptions.ArchiveCategoryId"/>
/// when one is set, deleting the oldest archived channels there first when that category is full. Archived channels
/// are also what the relay deletes first when the guild or the relay's category runs out of room. The channel of a chat
/// that is gone (deleted: an OpenAI <c>store: false</c> completion keeps nothing) is deleted whatever the setting, and
/// so is such a channel found archived by a sweep: a deletion that failed is tried again at the next one.
/// </summary>
public sealed partial class DiscordChannelRetirement(
    DiscordRestClient rest,
    DiscordRelayChannels channels,
    DiscordSelf self,
    DiscordOptions options,
    IServiceScopeFactory scopes,
    ILogger<DiscordChannelRetirement> logger) : BackgroundService, IChatClosedSignal
{
    private readonly Channel<Guid> _closed = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });

    private int _archived;
    private int _deleted;
    private int _opened;

    /// <summary>Relay channels whose overwrites were brought up to the listed client bots (each time one was).</summary>
    public int ChannelsOpenedToClientBots => _opened;

    /// <summary>Chat channels archived so far.</summary>
    public int Archived => _archived;

    /// <summary>Chat channels deleted so far (because their chat closed, or to make room in the archive).</summary>
    public int Deleted => _deleted;

    public void NotifyClosed(Guid chatId) => _closed.Writer.TryWrite(chatId);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var me = (await self.WhenReadyAsync(stoppingToken)).UserId;
            var nextSweep = DateTimeOffset.MinValue;
            while (!stoppingToken.IsCancellationRequested)
            {
                if (DateTimeOffset.UtcNow >= nextSweep)
                {
                    await SafelyAsync(() => SweepAsync(me, stoppingToken), null);
                    nextSweep = DateTimeOffset.UtcNow + options.ClosedChannelSweepInterval;
                }

                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(options.ClosedChannelSweepInterval);
                try
                {
                    await _closed.Reader.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    continue; // Time for the next sweep.
                }

                while (_closed.Reader.TryRead(out var chatId))
                {
                    await SafelyAsync(() => RetireAsync(chatId, me, stoppingToken), chatId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SafelyAsync(Func<Task> work, Guid? chatId)
    {
        try
        {
            await work();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The next sweep tries again.
            LogFailed(logger, chatId, ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>Retires the channel of a chat closed just now (if the chat is indeed closed or gone, and has one).</summary>
    private async Task RetireAsync(Guid chatId, string me, CancellationToken cancellationToken)
    {
        var closed = await IsClosedOrGoneAsync(chatId, cancellationToken);
        if (!closed.Closed)
        {
            return;
        }

        if (closed.Gone)
        {
            // Its row is gone, so the channel's id is found by its name: the channels this bot knows.
            await DeleteChannelsOfGoneChatsAsync(cancellationToken, chatId);
            return;
        }

        var channelId = channels.ChannelOf(chatId) ?? closed.ChannelId;
        if (channelId is null)
        {
            return; // The chat never reached Discord.
        }

        DiscordChannel channel;
        try
        {
            channel = await rest.GetChannelAsync(channelId, cancellationToken);
        }
        catch (DiscordNotFoundException)
        {
            channels.Forget(channelId);
            return;
        }

        if (channels.ChatOf(channel) == chatId && !DiscordRelayChannels.IsArchived(channel))
        {
            await RetireChannelAsync(channel, chatId, me, cancellationToken);
        }
    }

    /// <summary>
    /// The control channel lets in every listed client bot (one added to <see cref="DiscordOptions.ClientBotUserIds"/>
    /// after it was made): first, since a host not let in there is not heard at all. Then chat channels still open
    /// under the relay's category whose chat is closed or gone are retired, and the others let in every listed client
    /// bot too. Each channel on its own: one that refuses (an admin took the server bot's "Manage Permissions" there)
    /// keeps no host out of the others. Done here, in the one loop that also archives, so letting a bot in never races
    /// the archiving of the same channel in this process; one overwrite at a time, so it changes nothing else in a
    /// channel another process is changing.
    /// </summary>
    private async Task SweepAsync(string me, CancellationToken cancellationToken)
    {
        var all = await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken);
        foreach (var control in all.Where(c => c.ParentId == options.CategoryId && c.Type == DiscordChannelTypes.GuildText
                                               && c.Name == options.ControlChannelName))
        {
            await OnItsOwnAsync(control, null, () => LetClientBotsInAsync(control, me, cancellationToken));
        }

        var open = all
            .Where(c => c.ParentId == options.CategoryId && channels.ChatOf(c) is not null && !DiscordRelayChannels.IsArchived(c))
            .ToList();
        foreach (var channel in open)
        {
            var chatId = channels.ChatOf(channel)!.Value;
            await OnItsOwnAsync(channel, chatId, async () =>
            {
                var state = await IsClosedOrGoneAsync(chatId, cancellationToken);
                if (state.Gone)
                {
                    return; // deleted below, with those found archived
                }

                if (state.Closed)
                {
                    await RetireChannelAsync(channel, chatId, me, cancellationToken);
                }
                else
                {
                    await LetClientBotsInAsync(channel, me, cancellationToken);
                }
            });
        }

        await DeleteChannelsOfGoneChatsAsync(cancellationToken);
    }

    /// <summary>One channel's part of a sweep: a failure is logged and the sweep goes on with the next channel.</summary>
    private async Task OnItsOwnAsync(DiscordChannel channel, Guid? chatId, Func<Task> work)
    {
        try
        {
            await work();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogChannelFailed(logger, channel.Id, chatId, ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>
    /// Deletes the chat channels, open or archived, whose chat is gone (only <paramref name="chatId"/>'s when given):
    /// a chat that kept nothing leaves no envelopes behind in Discord either.
    /// </summary>
    private async Task DeleteChannelsOfGoneChatsAsync(CancellationToken cancellationToken, Guid? chatId = null)
    {
        var all = await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken);
        foreach (var channel in all.Where(c => (c.ParentId == options.CategoryId
                                                || options.ArchiveCategoryId is { } archive && c.ParentId == archive)
                                               && channels.ChatOf(c) is { } chat && (chatId is null || chat == chatId)))
        {
            var chat = channels.ChatOf(channel)!.Value;
            if (!(await IsClosedOrGoneAsync(chat, cancellationToken)).Gone)
            {
                continue;
            }

            try
            {
                await rest.DeleteChannelAsync(channel.Id, cancellationToken);
                Interlocked.Increment(ref _deleted);
                LogDeletedGone(logger, channel.Id, chat);
            }
            catch (DiscordNotFoundException)
            {
                // Deleted meanwhile.
            }

            channels.Forget(channel.Id);
        }
    }

    private async Task LetClientBotsInAsync(DiscordChannel channel, string me, CancellationToken cancellationToken)
    {
        var (toSet, toDrop) = channels.ClientBotAccessChanges(channel, me);
        if (toSet.Count == 0 && toDrop.Count == 0)
        {
            return;
        }

        try
        {
            foreach (var overwrite in toSet)
            {
                await rest.SetChannelPermissionAsync(channel.Id, overwrite, cancellationToken);
            }

            foreach (var dropped in toDrop)
            {
                await rest.DeleteChannelPermissionAsync(channel.Id, dropped, cancellationToken);
            }

            Interlocked.Increment(ref _opened);
            LogLetIn(logger, channel.Id, toSet.Count, toDrop.Count);
        }
        catch (DiscordNotFoundException)
        {
            channels.Forget(channel.Id); // Deleted meanwhile (reclaimed): nothing to let anyone into.
        }
    }

    private async Task<(bool Closed, bool Gone, string? ChannelId)> IsClosedOrGoneAsync(Guid chatId,
        CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var chat = await scope.ServiceProvider.GetRequiredService<IChatRepository>()
            .GetAsync(new ChatId(chatId), cancellationToken);
        var channel = chat is null
            ? null
            : await scope.ServiceProvider.GetRequiredService<IRelayChatChannels>().FindAsync(chat.Id, cancellationToken);
        return (chat is null || chat.IsClosed, chat is null, channel);
    }

    private async Task RetireChannelAsync(DiscordChannel channel, Guid chatId, string me, CancellationToken cancellationToken)
    {
        try
        {
            if (options.ClosedChannels == ClosedChannelAction.Delete)
            {
                await rest.DeleteChannelAsync(channel.Id, cancellationToken);
                channels.Forget(channel.Id);
                Interlocked.Increment(ref _deleted);
                LogDeleted(logger, channel.Id, chatId);
                return;
            }

            if (options.ArchiveCategoryId is { } archive)
            {
                await MakeRoomInArchiveAsync(archive, cancellationToken);
            }

            await rest.ModifyChannelAsync(channel.Id, new ModifyChannelRequest(
                options.ArchiveCategoryId,
                $"MeatLizard chat {chatId} (closed {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC)",
                channels.ArchivedOverwrites(me)), cancellationToken);
            channels.Forget(channel.Id);
            Interlocked.Increment(ref _archived);
            LogArchived(logger, channel.Id, chatId, options.ArchiveCategoryId);
        }
        catch (DiscordNotFoundException)
        {
            channels.Forget(channel.Id); // Deleted meanwhile (by hand, or reclaimed): nothing left to do.
        }
    }

    /// <summary>A category holds at most 50 channels: the oldest archived chats' channels there make room.</summary>
    private async Task MakeRoomInArchiveAsync(string archive, CancellationToken cancellationToken)
    {
        var inArchive = (await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken))
            .Where(c => c.ParentId == archive)
            .ToList();
        var over = inArchive.Count - options.MaxCategoryChannels + 1;
        if (over <= 0)
        {
            return;
        }

        var oldest = inArchive
            .Where(c => channels.ChatOf(c) is not null)
            .OrderBy(c => ulong.Parse(c.Id, CultureInfo.InvariantCulture))
            .Take(over + Math.Max(1, options.MaxCategoryChannels / 10));
        foreach (var channel in oldest)
        {
            await rest.DeleteChannelAsync(channel.Id, cancellationToken);
            Interlocked.Increment(ref _deleted);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Archived Discord channel {ChannelId} of closed chat {SessionId} (archive category {ArchiveCategoryId})")]
    private static partial void LogArchived(ILogger logger, string channelId, Guid sessionId, string? archiveCategoryId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Brought Discord channel {ChannelId} up to the listed client bots ({LetIn} let in, {LeftOut} no longer listed left out)")]
    private static partial void LogLetIn(ILogger logger, string channelId, int letIn, int leftOut);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not bring Discord channel {ChannelId} (chat {SessionId}) up to the listed client bots, or retire it; the next sweep tries again: {ErrorType} {Error}")]
    private static partial void LogChannelFailed(ILogger logger, string channelId, Guid? sessionId, string errorType, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted Discord channel {ChannelId} of closed chat {SessionId}")]
    private static partial void LogDeleted(ILogger logger, string channelId, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted Discord channel {ChannelId} of chat {SessionId}, which is gone")]
    private static partial void LogDeletedGone(ILogger logger, string channelId, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not retire a closed chat's Discord channel (chat {SessionId}): {ErrorType} {Error}")]
    private static partial void LogFailed(ILogger logger, Guid? sessionId, string errorType, string error);
}

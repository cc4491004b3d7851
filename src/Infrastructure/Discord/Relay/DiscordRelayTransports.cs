using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The server bot's end of the relay over Discord. Each chat session gets its own private channel under the
/// category (created on the session's first request and recorded on the session); heartbeats and other
/// session-less packets use the control channel. Channels are a shared resource (a category holds 50), so:
/// one user's open chats hold at most <see cref="DiscordOptions.MaxChannelsPerUser"/> channels — beyond that the
/// user's least recently used idle chat gives its channel back — and before a channel is created, the category's and
/// the guild's limits are checked and channels of closed chats, then of the least recently used idle chats of anyone,
/// are deleted to make room. A chat with an unfinished request never loses its channel; a chat that lost its channel
/// gets a new one on next use. Everything sent to one chat goes through that chat's gate, which taking its channel
/// back holds too, so no send races the deletion.
/// </summary>
public sealed partial class DiscordServerRelayTransport(
    DiscordRestClient rest,
    DiscordRelayChannels channels,
    DiscordRelayInbox inbox,
    DiscordSelf self,
    DiscordOptions options,
    IServiceScopeFactory scopes,
    ILogger<DiscordServerRelayTransport> logger) : IServerRelayTransport
{
    /// <summary>Chats share this many gates (by hash): bounded memory, and two chats rarely wait on each other.</summary>
    private const int GateCount = 256;

    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, GateCount).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly SemaphoreSlim _reclaiming = new(1, 1);

    /// <summary>How many channels were deleted to stay under Discord's limits or a user's cap.</summary>
    public int ReclaimedChannels => _reclaimed;

    /// <summary>How many of those were taken back from open (idle) chats, which get a new one on next use.</summary>
    public int TakenBackChannels => _takenBack;

    private int _reclaimed;
    private int _takenBack;

    public async ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        try
        {
            await PostAsync(packet, cancellationToken);
        }
        catch (Exception ex) when (DiscordOutage.Explains(ex, cancellationToken))
        {
            throw DiscordOutage.Unavailable(ex);
        }
    }

    private async Task PostAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (packet.ChatId is not { } chatId)
        {
            await DiscordRelayInbox.PostAsync(rest, await ControlChannelAsync(cancellationToken), packet.Wire, cancellationToken);
            return;
        }

        var gate = GateOf(chatId);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var channelId = await SessionChannelAsync(chatId, gate, cancellationToken);
            try
            {
                await DiscordRelayInbox.PostAsync(rest, channelId, packet.Wire, cancellationToken);
            }
            catch (DiscordNotFoundException)
            {
                // The channel is gone (deleted by hand, or taken back by another process): the chat gets a new one.
                channels.Forget(channelId);
                await ReleaseRecordedChannelAsync(chatId, channelId, cancellationToken);
                channelId = await SessionChannelAsync(chatId, gate, cancellationToken);
                await DiscordRelayInbox.PostAsync(rest, channelId, packet.Wire, cancellationToken);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) => inbox.ReadAllAsync(cancellationToken);

    /// <summary>The control channel, created if it does not exist yet.</summary>
    public async ValueTask<string> ControlChannelAsync(CancellationToken cancellationToken)
    {
        var me = (await self.WhenReadyAsync(cancellationToken)).UserId;
        return await channels.ControlChannelAsync(me, cancellationToken)
            ?? throw new InvalidOperationException("The Discord control channel could not be created.");
    }

    private SemaphoreSlim GateOf(Guid chatId) => _gates[(int)((uint)chatId.GetHashCode() % GateCount)];

    /// <summary>The chat's channel, created when it has none; the caller holds the chat's gate.</summary>
    private async ValueTask<string> SessionChannelAsync(Guid chatId, SemaphoreSlim heldGate, CancellationToken cancellationToken)
    {
        if (channels.ChannelOf(chatId) is { } known)
        {
            return known;
        }

        await using var scope = scopes.CreateAsyncScope();
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        var chat = await chats.GetAsync(new ChatId(chatId), cancellationToken)
            ?? throw new InvalidOperationException($"Chat {chatId} does not exist; no Discord channel is made for it.");
        var recordedChannels = scope.ServiceProvider.GetRequiredService<IRelayChatChannels>();
        if (await recordedChannels.FindAsync(chat.Id, cancellationToken) is { } recorded)
        {
            channels.Remember(chatId, recorded);
            return recorded;
        }

        var me = (await self.WhenReadyAsync(cancellationToken)).UserId;
        await KeepUserUnderCapAsync(chat.OwnerId, chatId, heldGate, cancellationToken);
        var channel = await CreateWithRoomAsync(chatId, me, heldGate, cancellationToken);
        // The relay's own record: whatever the user changes in the chat meanwhile stays (and a chat deleted meanwhile
        // records nothing).
        await recordedChannels.AssignAsync(chat.Id, channel.Id, cancellationToken);
        channels.Remember(chatId, channel.Id);
        LogCreated(logger, channel.Id, chatId);
        return channel.Id;
    }

    /// <summary>
    /// Before one more of the user's chats gets a channel: while the user's other open chats hold
    /// <see cref="DiscordOptions.MaxChannelsPerUser"/> or more, the least recently used idle ones give theirs back.
    /// Throws when all of them have a request in flight: this chat gets its channel once one of those finishes.
    /// </summary>
    private async Task KeepUserUnderCapAsync(UserId owner, Guid chatId, SemaphoreSlim heldGate, CancellationToken cancellationToken)
    {
        var cap = Math.Min(options.MaxChannelsPerUser, options.MaxCategoryChannels - 1);
        List<ChannelHolder> others;
        await using (var scope = scopes.CreateAsyncScope())
        {
            others = [.. (await scope.ServiceProvider.GetRequiredService<IChatReadModel>().GetChannelHoldersAsync(owner, cancellationToken))
                .Where(h => h.ChatId.Value != chatId)];
        }

        var excess = others.Count - (cap - 1);
        foreach (var holder in others.Where(h => !h.Busy))
        {
            if (excess <= 0)
            {
                return;
            }

            if (await TryTakeBackAsync(holder, heldGate, cancellationToken))
            {
                excess--;
            }
        }

        if (excess > 0)
        {
            throw new InvalidOperationException(
                $"User {owner.Value} already holds {others.Count} Discord channels (Discord:MaxChannelsPerUser is {cap}) and each of those chats has a request in flight; chat {chatId} gets a channel once one finishes.");
        }
    }

    /// <summary>
    /// Deletes an open chat's channel and records that the chat has none, when the chat is idle: not being sent to
    /// (its gate is free, or is the one the caller holds) and with no unfinished request, both checked under its gate.
    /// </summary>
    private async Task<bool> TryTakeBackAsync(ChannelHolder holder, SemaphoreSlim heldGate, CancellationToken cancellationToken)
    {
        var gate = GateOf(holder.ChatId.Value);
        var held = gate == heldGate;
        if (!held && !await gate.WaitAsync(TimeSpan.Zero, cancellationToken))
        {
            return false; // A send to it (or a chat sharing its gate) is under way: it is in use.
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            if (await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                    .GetUnfinishedForSessionAsync(holder.ChatId, cancellationToken) is not null)
            {
                return false;
            }

            try
            {
                await rest.DeleteChannelAsync(holder.ChannelId, cancellationToken);
            }
            catch (DiscordNotFoundException)
            {
                // Gone already: all that is left is to record it.
            }

            channels.Forget(holder.ChannelId);
            await ReleaseRecordedChannelAsync(holder.ChatId.Value, holder.ChannelId, cancellationToken);
            Interlocked.Increment(ref _reclaimed);
            Interlocked.Increment(ref _takenBack);
            LogTakenBack(logger, holder.ChannelId, holder.ChatId.Value, holder.OwnerId.Value);
            return true;
        }
        finally
        {
            if (!held)
            {
                gate.Release();
            }
        }
    }

    /// <summary>Records that the chat no longer holds <paramref name="channelId"/> (unless it holds another by now).</summary>
    private async Task ReleaseRecordedChannelAsync(Guid chatId, string channelId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IRelayChatChannels>()
            .ReleaseAsync(new ChatId(chatId), channelId, cancellationToken);
    }

    /// <summary>
    /// How often a chat's channel is tried when Discord says the category or the guild is full: each time room is made
    /// again, since the room made last time may have gone to a creation racing this one in another server bot.
    /// </summary>
    private const int CreateAttempts = 5;

    /// <summary>
    /// Creates the chat's channel, making room first. Room made may be taken by a creation racing this one (another chat
    /// here, or another server bot): a full category or guild makes room again and tries again, up to
    /// <see cref="CreateAttempts"/> times. Only the reclaiming is one at a time in this process, not the creations.
    /// </summary>
    private async Task<DiscordChannel> CreateWithRoomAsync(
        Guid chatId, string me, SemaphoreSlim heldGate, CancellationToken cancellationToken)
    {
        var request = channels.PrivateChannel(DiscordRelayChannels.ChannelName(chatId), $"MeatLizard chat {chatId}", me);
        await ReclaimAsync(categoryFull: false, guildFull: false, heldGate, cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await rest.CreateGuildChannelAsync(options.GuildId!, request, cancellationToken);
            }
            catch (DiscordApiException ex) when ((ex.Code == DiscordErrorCode.MaxGuildChannels || ex.IsCategoryFull)
                                                 && attempt < CreateAttempts)
            {
                // Filled since we counted (by a creation racing this one, or channels made by hand): make room again.
                await ReclaimAsync(categoryFull: ex.IsCategoryFull, guildFull: !ex.IsCategoryFull, heldGate, cancellationToken);
            }
        }
    }

    /// <summary>
    /// When the category or the guild is full by our count (or as Discord said: <paramref name="categoryFull"/>,
    /// <paramref name="guildFull"/>): deletes channels of closed (or deleted)
    /// chats, oldest first, then takes back those of the least recently used idle open chats. Throws when nothing can
    /// be reclaimed: a new chat cannot get a channel then. One at a time in this process.
    /// </summary>
    private async Task ReclaimAsync(bool categoryFull, bool guildFull, SemaphoreSlim heldGate, CancellationToken cancellationToken)
    {
        await _reclaiming.WaitAsync(cancellationToken);
        try
        {
            var all = await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken);
            var inCategory = all.Count(c => c.ParentId == options.CategoryId);
            var inGuild = all.Count(c => c.Type != DiscordChannelTypes.GuildCategory);
            // Discord's word counts even when ours differs (channels made since, or limits lower than configured).
            var categoryOver = Math.Max(inCategory - options.MaxCategoryChannels + 1, categoryFull ? 1 : 0);
            var guildOver = Math.Max(inGuild - options.MaxGuildChannels + 1, guildFull ? 1 : 0);
            if (categoryOver <= 0 && guildOver <= 0)
            {
                return;
            }

            // A little headroom, so a burst of new chats does not reclaim one channel at a time.
            var headroom = Math.Max(1, options.MaxCategoryChannels / 10);
            var wantedInCategory = categoryOver > 0 ? categoryOver + headroom : 0;
            var wantedInGuild = guildOver > 0 ? guildOver + headroom : 0;

            // Channels in the relay's category help both limits, archived ones (of closed chats) first, oldest first;
            // archived channels in the archive category help only the guild's.
            var candidates = all
                .Where(c => channels.ChatOf(c) is not null)
                .OrderBy(c => c.ParentId == options.CategoryId ? 0 : 1)
                .ThenBy(c => DiscordRelayChannels.IsArchived(c) ? 0 : 1)
                .ThenBy(c => ulong.Parse(c.Id, System.Globalization.CultureInfo.InvariantCulture))
                .Select(c => (ChannelId: c.Id, SessionId: channels.ChatOf(c)!.Value, InCategory: c.ParentId == options.CategoryId))
                .ToList();
            foreach (var channel in all)
            {
                channels.Learn(channel);
            }

            int deleted = 0, deletedInCategory = 0;
            await using var scope = scopes.CreateAsyncScope();
            var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
            foreach (var candidate in candidates)
            {
                if (deletedInCategory >= wantedInCategory && deleted >= wantedInGuild)
                {
                    break;
                }

                if (!candidate.InCategory && deleted >= wantedInGuild)
                {
                    continue;
                }

                var chat = await chats.GetAsync(new ChatId(candidate.SessionId), cancellationToken);
                if (chat is { IsClosed: false })
                {
                    continue;
                }

                await rest.DeleteChannelAsync(candidate.ChannelId, cancellationToken);
                channels.Forget(candidate.ChannelId);
                deleted++;
                deletedInCategory += candidate.InCategory ? 1 : 0;
            }

            Interlocked.Add(ref _reclaimed, deleted);
            LogReclaimed(logger, deleted, inCategory, inGuild);

            // Still full: open chats that sit idle give their channels back, least recently used first — only as many
            // as needed (no headroom: each will want a channel again when its user comes back).
            var needInCategory = categoryOver - deletedInCategory;
            var needInGuild = guildOver - deleted;
            if (needInCategory > 0 || needInGuild > 0)
            {
                var ours = all.Where(c => c.ParentId == options.CategoryId).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                var idle = (await scope.ServiceProvider.GetRequiredService<IChatReadModel>().GetChannelHoldersAsync(null, cancellationToken))
                    .Where(h => !h.Busy && ours.Contains(h.ChannelId));
                foreach (var holder in idle)
                {
                    if (needInCategory <= 0 && needInGuild <= 0)
                    {
                        break;
                    }

                    if (await TryTakeBackAsync(holder, heldGate, cancellationToken))
                    {
                        needInCategory--;
                        needInGuild--;
                    }
                }
            }

            if (needInCategory > 0 || needInGuild > 0)
            {
                throw new InvalidOperationException(
                    $"Discord channel limit reached ({inCategory} channels in the category, {inGuild} in the guild) and every chat holding one has a request in flight; close old chats or raise the limits.");
            }
        }
        finally
        {
            _reclaiming.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Discord channel {ChannelId} for chat {SessionId}")]
    private static partial void LogCreated(ILogger logger, string channelId, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Reclaimed {Deleted} Discord channels of closed chats ({InCategory} in the category, {InGuild} in the guild)")]
    private static partial void LogReclaimed(ILogger logger, int deleted, int inCategory, int inGuild);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Took back Discord channel {ChannelId} from idle chat {SessionId} of user {UserId}; it gets a new one on next use")]
    private static partial void LogTakenBack(ILogger logger, string channelId, Guid sessionId, Guid userId);
}

/// <summary>
/// The client bot's (worker's) end of the relay over Discord: it answers in the channel the request came from, and
/// sends heartbeats to the control channel (which the server bot creates).
/// </summary>
public sealed class DiscordHostRelayTransport(DiscordRestClient rest, DiscordRelayChannels channels, DiscordRelayInbox inbox)
    : IHostRelayTransport
{
    private async Task PostAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var channelId = packet.ChatId is { } chatId
            ? await channels.FindSessionChannelAsync(chatId, cancellationToken)
              ?? throw new InvalidOperationException($"No Discord channel exists for chat {chatId}.")
            : await channels.ControlChannelAsync(createAsServerBot: null, cancellationToken)
              ?? throw new InvalidOperationException("The Discord control channel does not exist yet; the server bot creates it when it starts.");
        await DiscordRelayInbox.PostAsync(rest, channelId, packet.Wire, cancellationToken);
    }

    public async ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        try
        {
            await PostAsync(packet, cancellationToken);
        }
        catch (Exception ex) when (DiscordOutage.Explains(ex, cancellationToken))
        {
            throw DiscordOutage.Unavailable(ex);
        }
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) => inbox.ReadAllAsync(cancellationToken);
}

/// <summary>A relay send that failed for want of Discord: no answer (or none in time), or a server error.</summary>
internal static class DiscordOutage
{
    public static bool Explains(Exception exception, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested
        && exception is HttpRequestException or TaskCanceledException
            or DiscordApiException { Status: >= System.Net.HttpStatusCode.InternalServerError };

    public static RelayTransportUnavailableException Unavailable(Exception exception) =>
        new("Discord is not answering, or answering with a server error.", exception);
}

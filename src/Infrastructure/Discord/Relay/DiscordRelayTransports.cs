using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The server bot's end of the relay over Discord. Each chat session gets its own private channel under the
/// category (created on the session's first request and recorded on the session); heartbeats and other
/// session-less packets use the control channel. Before a channel is created, the category's and the guild's
/// channel limits are checked and channels of the oldest closed chats are deleted to make room.
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
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _creating = new();
    private readonly SemaphoreSlim _reclaiming = new(1, 1);

    /// <summary>How many channels were deleted to stay under Discord's limits.</summary>
    public int ReclaimedChannels => _reclaimed;

    private int _reclaimed;

    public async ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var channelId = packet.SessionId is { } session
            ? await SessionChannelAsync(session, cancellationToken)
            : await ControlChannelAsync(cancellationToken);
        await DiscordRelayInbox.PostAsync(rest, channelId, packet.Wire, cancellationToken);
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) => inbox.ReadAllAsync(cancellationToken);

    /// <summary>The control channel, created if it does not exist yet.</summary>
    public async ValueTask<string> ControlChannelAsync(CancellationToken cancellationToken)
    {
        var me = (await self.WhenReadyAsync(cancellationToken)).UserId;
        return await channels.ControlChannelAsync(me, cancellationToken)
            ?? throw new InvalidOperationException("The Discord control channel could not be created.");
    }

    private async ValueTask<string> SessionChannelAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        if (channels.ChannelOf(sessionId) is { } known)
        {
            return known;
        }

        var gate = _creating.GetOrAdd(sessionId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (channels.ChannelOf(sessionId) is { } created)
            {
                return created;
            }

            await using var scope = scopes.CreateAsyncScope();
            var sessions = scope.ServiceProvider.GetRequiredService<IChatSessionRepository>();
            var session = await sessions.GetAsync(new SessionId(sessionId), cancellationToken)
                ?? throw new InvalidOperationException($"Chat {sessionId} does not exist; no Discord channel is made for it.");
            if (session.DiscordChannelId is { } recorded)
            {
                channels.Remember(sessionId, recorded);
                return recorded;
            }

            var me = (await self.WhenReadyAsync(cancellationToken)).UserId;
            var channel = await CreateWithRoomAsync(sessionId, me, cancellationToken);
            await scope.ServiceProvider.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
            {
                // Read again: the user may have renamed or closed the chat meanwhile.
                var current = await sessions.GetAsync(new SessionId(sessionId), ct);
                if (current is not null)
                {
                    current.AssignDiscordChannel(channel.Id);
                    await sessions.UpdateAsync(current, ct);
                }

                return true;
            }, cancellationToken);
            channels.Remember(sessionId, channel.Id);
            LogCreated(logger, channel.Id, sessionId);
            return channel.Id;
        }
        finally
        {
            gate.Release();
            _creating.TryRemove(sessionId, out _);
        }
    }

    private async Task<DiscordChannel> CreateWithRoomAsync(Guid sessionId, string me, CancellationToken cancellationToken)
    {
        var request = channels.PrivateChannel(DiscordRelayChannels.ChannelName(sessionId), $"MeatLizard chat {sessionId}", me);
        await ReclaimAsync(force: false, cancellationToken);
        try
        {
            return await rest.CreateGuildChannelAsync(options.GuildId!, request, cancellationToken);
        }
        catch (DiscordApiException ex) when (ex.Code == DiscordErrorCode.MaxGuildChannels
                                             || ex.DiscordMessage.Contains("channels in category", StringComparison.OrdinalIgnoreCase))
        {
            // Someone else filled the guild or category since we counted: make room and try once more.
            await ReclaimAsync(force: true, cancellationToken);
            return await rest.CreateGuildChannelAsync(options.GuildId!, request, cancellationToken);
        }
    }

    /// <summary>
    /// Deletes channels of closed (or deleted) chats, oldest first, when the category or the guild is full (or
    /// <paramref name="force"/>). Throws when nothing can be reclaimed: a new chat cannot get a channel then.
    /// </summary>
    private async Task ReclaimAsync(bool force, CancellationToken cancellationToken)
    {
        await _reclaiming.WaitAsync(cancellationToken);
        try
        {
            var all = await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken);
            var inCategory = all.Count(c => c.ParentId == options.CategoryId);
            var inGuild = all.Count(c => c.Type != DiscordChannelTypes.GuildCategory);
            var categoryOver = inCategory - options.MaxCategoryChannels + 1;
            var guildOver = inGuild - options.MaxGuildChannels + 1;
            var over = Math.Max(categoryOver, guildOver);
            if (over <= 0 && !force)
            {
                return;
            }

            // A little headroom, so a burst of new chats does not reclaim one channel at a time. When Discord said
            // "full" (force) without saying which limit, both get some room.
            var headroom = Math.Max(1, options.MaxCategoryChannels / 10);
            var wantedInCategory = categoryOver > 0 || force ? Math.Max(1, categoryOver) + headroom : 0;
            var wantedInGuild = guildOver > 0 || force ? Math.Max(1, guildOver) + headroom : 0;

            // Channels in the relay's category help both limits, archived ones (of closed chats) first, oldest first;
            // archived channels in the archive category help only the guild's.
            var candidates = all
                .Where(c => channels.ChatOf(c) is not null)
                .OrderBy(c => c.ParentId == options.CategoryId ? 0 : 1)
                .ThenBy(c => channels.IsArchived(c) ? 0 : 1)
                .ThenBy(c => ulong.Parse(c.Id, System.Globalization.CultureInfo.InvariantCulture))
                .Select(c => (ChannelId: c.Id, SessionId: channels.ChatOf(c)!.Value, InCategory: c.ParentId == options.CategoryId))
                .ToList();
            foreach (var channel in all)
            {
                channels.Learn(channel);
            }

            int deleted = 0, deletedInCategory = 0;
            await using var scope = scopes.CreateAsyncScope();
            var sessions = scope.ServiceProvider.GetRequiredService<IChatSessionRepository>();
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

                var session = await sessions.GetAsync(new SessionId(candidate.SessionId), cancellationToken);
                if (session is { IsClosed: false })
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
            if ((categoryOver > 0 && deletedInCategory == 0) || (guildOver > 0 && deleted == 0) || (force && deleted == 0))
            {
                throw new InvalidOperationException(
                    $"Discord channel limit reached ({inCategory} channels in the category, {inGuild} in the guild) and no closed chat's channel is left to reclaim; close old chats or raise the limits.");
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
}

/// <summary>
/// The client bot's (worker's) end of the relay over Discord: it answers in the channel the request came from, and
/// sends heartbeats to the control channel (which the server bot creates).
/// </summary>
public sealed class DiscordWorkerRelayTransport(DiscordRestClient rest, DiscordRelayChannels channels, DiscordRelayInbox inbox)
    : IWorkerRelayTransport
{
    public async ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        var channelId = packet.SessionId is { } session
            ? await channels.FindSessionChannelAsync(session, cancellationToken)
              ?? throw new InvalidOperationException($"No Discord channel exists for chat {session}.")
            : await channels.ControlChannelAsync(createAsServerBot: null, cancellationToken)
              ?? throw new InvalidOperationException("The Discord control channel does not exist yet; the server bot creates it when it starts.");
        await DiscordRelayInbox.PostAsync(rest, channelId, packet.Wire, cancellationToken);
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) => inbox.ReadAllAsync(cancellationToken);
}

using System.Collections.Concurrent;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// Knows which channels carry the relay: session channels are named <c>chat-{session id, 32 hex}</c> under the
/// configured category; the control channel has the configured name there. Unknown channels are looked up once.
/// </summary>
public sealed class DiscordRelayChannels(DiscordRestClient rest, DiscordOptions options)
{
    public const string SessionPrefix = "chat-";

    private readonly ConcurrentDictionary<string, RelayChannelInfo> _byChannel = new();
    private readonly ConcurrentDictionary<Guid, string> _bySession = new();
    private readonly SemaphoreSlim _controlLock = new(1, 1);
    private string? _controlChannelId;

    public static string ChannelName(Guid chatId) => SessionPrefix + chatId.ToString("N");

    public RelayChannelInfo Learn(DiscordChannel channel)
    {
        var info = Describe(channel);
        _byChannel[channel.Id] = info;
        if (info.ChatId is { } chatId)
        {
            _bySession[chatId] = channel.Id;
        }

        if (info.IsControl)
        {
            _controlChannelId = channel.Id;
        }

        return info;
    }

    public void Remember(Guid chatId, string channelId)
    {
        _bySession[chatId] = channelId;
        // What was read of the channel (who it lets in) is kept when it is the same chat's.
        _byChannel.AddOrUpdate(channelId, new RelayChannelInfo(channelId, chatId, false),
            (_, known) => known.ChatId == chatId ? known : new RelayChannelInfo(channelId, chatId, false));
    }

    public void Forget(string channelId)
    {
        if (_byChannel.TryRemove(channelId, out var info) && info.ChatId is { } chatId)
        {
            _bySession.TryRemove(chatId, out _);
        }
    }

    public string? ChannelOf(Guid chatId) => _bySession.TryGetValue(chatId, out var id) ? id : null;

    public async ValueTask<RelayChannelInfo> DescribeAsync(string channelId, CancellationToken cancellationToken)
    {
        if (_byChannel.TryGetValue(channelId, out var known))
        {
            return known;
        }

        try
        {
            return Learn(await rest.GetChannelAsync(channelId, cancellationToken));
        }
        catch (DiscordApiException ex) when (ex is DiscordNotFoundException or DiscordForbiddenException)
        {
            return _byChannel[channelId] = new RelayChannelInfo(channelId, null, false);
        }
    }

    /// <summary>Finds a session's channel by its name (the worker, which did not create it); null when none exists.</summary>
    public async ValueTask<string?> FindSessionChannelAsync(Guid chatId, CancellationToken cancellationToken)
    {
        if (ChannelOf(chatId) is { } known)
        {
            return known;
        }

        foreach (var channel in await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken))
        {
            Learn(channel);
        }

        return ChannelOf(chatId);
    }

    /// <summary>
    /// The control channel: found by name under the category, or (when <paramref name="create"/>, the server bot)
    /// created private to both bots. Null when it does not exist (yet).
    /// </summary>
    public async ValueTask<string?> ControlChannelAsync(string? createAsServerBot, CancellationToken cancellationToken)
    {
        if (_controlChannelId is { } id)
        {
            return id;
        }

        await _controlLock.WaitAsync(cancellationToken);
        try
        {
            if (_controlChannelId is not null)
            {
                return _controlChannelId;
            }

            foreach (var channel in await rest.ListGuildChannelsAsync(options.GuildId!, cancellationToken))
            {
                Learn(channel);
            }

            if (_controlChannelId is null && createAsServerBot is not null)
            {
                Learn(await rest.CreateGuildChannelAsync(options.GuildId!,
                    PrivateChannel(options.ControlChannelName, "MeatLizard relay control channel (worker heartbeats)", createAsServerBot),
                    cancellationToken));
            }

            return _controlChannelId;
        }
        finally
        {
            _controlLock.Release();
        }
    }

    /// <summary>
    /// A text channel under the category that only the bots can see: the server bot (which creates them) and every
    /// listed client bot.
    /// </summary>
    public CreateChannelRequest PrivateChannel(string name, string topic, string serverBotUserId) => new(name,
        DiscordChannelTypes.GuildText, options.CategoryId, topic,
        [
            PermissionOverwrite.DenyEveryone(options.GuildId!),
            PermissionOverwrite.AllowMember(serverBotUserId, DiscordPermissions.RelayBot),
            .. options.ClientBotUserIds.Where(id => id != serverBotUserId)
                .Select(id => PermissionOverwrite.AllowMember(id, DiscordPermissions.RelayBot)),
        ]);

    /// <summary>
    /// What an open relay channel (made earlier, perhaps for other client bots) lacks now, one overwrite at a time: every
    /// listed client bot let in (<paramref name="ToSet"/>: a bot with no overwrite, or one that does not let it in), and
    /// the relay's own overwrite of a bot no longer listed (exactly <see cref="DiscordPermissions.RelayBot"/> allowed,
    /// nothing denied) dropped (<paramref name="ToDrop"/>), so a host taken off the list stops reading the channels.
    /// Every other overwrite (the operator's own) is left as it is. Both empty when the channel is as it should be.
    /// </summary>
    public (IReadOnlyList<PermissionOverwrite> ToSet, IReadOnlyList<string> ToDrop) ClientBotAccessChanges(
        DiscordChannel channel, string serverBotUserId)
    {
        var current = channel.PermissionOverwrites ?? [];
        var listed = options.ClientBotUserIds.Where(id => id != serverBotUserId).ToHashSet(StringComparer.Ordinal);
        var toDrop = current
            .Where(o => o.Type == 1 && o.Id != serverBotUserId && !listed.Contains(o.Id)
                        && Bits(o.Allow) == DiscordPermissions.RelayBot && Bits(o.Deny) == 0)
            .Select(o => o.Id)
            .ToList();
        var toSet = options.ClientBotUserIds
            .Where(id => listed.Contains(id) && !current.Any(o => o.Type == 1 && o.Id == id && LetsIn(o)))
            .Distinct(StringComparer.Ordinal)
            .Select(id => PermissionOverwrite.AllowMember(id, DiscordPermissions.RelayBot))
            .ToList();
        return (toSet, toDrop);
    }

    /// <summary>Whether a member overwrite gives a bot all it needs in a relay channel and takes none of it away.</summary>
    private static bool LetsIn(PermissionOverwrite overwrite) =>
        (Bits(overwrite.Allow) & DiscordPermissions.RelayBot) == DiscordPermissions.RelayBot && (Bits(overwrite.Deny) & DiscordPermissions.RelayBot) == 0;

    private static ulong Bits(string? bits) =>
        ulong.TryParse(bits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;

    /// <summary>
    /// The chat whose channel this is, under the relay's category or (archived) the archive category; null for any
    /// other channel. Unlike <see cref="Learn"/>, archived channels count: they are what reclaiming deletes.
    /// </summary>
    public Guid? ChatOf(DiscordChannel channel) =>
        channel.Type == DiscordChannelTypes.GuildText
        && (channel.ParentId == options.CategoryId || (options.ArchiveCategoryId is not null && channel.ParentId == options.ArchiveCategoryId))
        && channel.Name is { } name && name.StartsWith(SessionPrefix, StringComparison.Ordinal)
        && Guid.TryParseExact(name[SessionPrefix.Length..], "N", out var chatId)
            ? chatId
            : null;

    /// <summary>
    /// Whether a chat's channel was archived: the client bots may no longer write there (archiving takes sending away
    /// from every bot it lets in, so any member denied sending tells, whichever client bots are listed today).
    /// </summary>
    public static bool IsArchived(DiscordChannel channel) =>
        channel.PermissionOverwrites?.Any(o => o.Type == 1 && o.DeniesSending) == true;

    /// <summary>A chat channel as archived: hidden from everyone, every bot may read it, none may write.</summary>
    public IReadOnlyList<PermissionOverwrite> ArchivedOverwrites(string serverBotUserId) =>
    [
        PermissionOverwrite.DenyEveryone(options.GuildId!),
        PermissionOverwrite.ReadOnlyMember(serverBotUserId),
        .. options.ClientBotUserIds.Where(id => id != serverBotUserId).Select(PermissionOverwrite.ReadOnlyMember),
    ];

    private RelayChannelInfo Describe(DiscordChannel channel)
    {
        if (channel.ParentId != options.CategoryId || channel.Type != DiscordChannelTypes.GuildText || channel.Name is null)
        {
            return new RelayChannelInfo(channel.Id, null, false);
        }

        var members = channel.PermissionOverwrites?
            .Where(o => o.Type == 1 && (Bits(o.Allow) & DiscordPermissions.ViewChannel) != 0 && (Bits(o.Deny) & DiscordPermissions.ViewChannel) == 0)
            .Select(o => o.Id)
            .ToHashSet(StringComparer.Ordinal);
        if (channel.Name == options.ControlChannelName)
        {
            return new RelayChannelInfo(channel.Id, null, true, members);
        }

        return channel.Name.StartsWith(SessionPrefix, StringComparison.Ordinal)
               && Guid.TryParseExact(channel.Name[SessionPrefix.Length..], "N", out var chatId)
            ? new RelayChannelInfo(channel.Id, chatId, false, members)
            : new RelayChannelInfo(channel.Id, null, false);
    }
}

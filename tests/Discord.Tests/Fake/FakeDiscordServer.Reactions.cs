using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace MeatLizard.Discord.Tests.Fake;

// Members' reactions on messages, as the gateway delivers them.
public sealed partial class FakeDiscordServer
{
    /// <summary>GUILD_MESSAGE_REACTIONS (1 &lt;&lt; 10): without it a session gets no MESSAGE_REACTION_* of a guild.</summary>
    public const int GuildMessageReactionsIntent = 1024;

    /// <summary>Each member's reactions on each message (message id, emoji, member id): one of each emoji per member.</summary>
    private readonly ConcurrentDictionary<(string Message, string Emoji, string Member), bool> _reactions = new();

    /// <summary>
    /// A member adds the Unicode <paramref name="emoji"/> to <paramref name="message"/>: MESSAGE_REACTION_ADD, shaped
    /// as Discord documents it (user_id, channel_id, message_id, guild_id, member, emoji {id null, name},
    /// message_author_id, burst, burst_colors, type 0 normal), to every session that identified with
    /// GUILD_MESSAGE_REACTIONS and sees the channel. A reaction the member already has adds nothing and sends nothing.
    /// </summary>
    public async Task ReactAsync(string memberId, FakeMessage message, string emoji)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_reactions.TryAdd((message.Id, emoji, memberId), true))
        {
            return;
        }

        var data = ReactionJson(memberId, message, emoji);
        data["member"] = new JsonObject
        {
            ["user"] = UserJson(memberId),
            ["roles"] = new JsonArray(),
            ["joined_at"] = "2024-01-01T00:00:00.000000+00:00",
            ["deaf"] = false,
            ["mute"] = false,
            ["flags"] = 0,
        };
        data["message_author_id"] = message.AuthorId;
        data["burst_colors"] = new JsonArray();
        await DispatchReactionAsync("MESSAGE_REACTION_ADD", message, data);
    }

    /// <summary>
    /// A member takes their <paramref name="emoji"/> away from <paramref name="message"/>: MESSAGE_REACTION_REMOVE,
    /// shaped as Discord documents it (user_id, channel_id, message_id, guild_id, emoji {id null, name}, burst, type; no
    /// member, message_author_id or burst_colors), to the same sessions as an added one. A reaction the member does not
    /// have sends nothing.
    /// </summary>
    public async Task UnreactAsync(string memberId, FakeMessage message, string emoji)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_reactions.TryRemove((message.Id, emoji, memberId), out _))
        {
            await DispatchReactionAsync("MESSAGE_REACTION_REMOVE", message, ReactionJson(memberId, message, emoji));
        }
    }

    private JsonObject ReactionJson(string memberId, FakeMessage message, string emoji) => new()
    {
        ["user_id"] = memberId,
        ["channel_id"] = message.ChannelId,
        ["message_id"] = message.Id,
        ["guild_id"] = GuildId,
        ["emoji"] = new JsonObject { ["id"] = null, ["name"] = emoji },
        ["burst"] = false,
        ["type"] = 0,
    };

    private async Task DispatchReactionAsync(string type, FakeMessage message, JsonObject data)
    {
        if (!_channels.TryGetValue(message.ChannelId, out var channel))
        {
            return;
        }

        foreach (var session in _sessions.Values.Where(s =>
                     (s.Intents & GuildMessageReactionsIntent) != 0 && CanView(channel, s.Bot.UserId, GuildId)))
        {
            await session.DispatchAsync(type, data.DeepClone());
        }
    }
}

using System.Text.Json.Nodes;

namespace MeatLizard.Discord.Tests.Fake;

// Members' reactions on messages, as the gateway delivers them.
public sealed partial class FakeDiscordServer
{
    /// <summary>GUILD_MESSAGE_REACTIONS (1 &lt;&lt; 10): without it a session gets no MESSAGE_REACTION_* of a guild.</summary>
    public const int GuildMessageReactionsIntent = 1024;

    /// <summary>
    /// A member adds the Unicode <paramref name="emoji"/> to <paramref name="message"/>: MESSAGE_REACTION_ADD, shaped
    /// as Discord documents it (user_id, channel_id, message_id, guild_id, member, emoji {id null, name},
    /// message_author_id, burst, burst_colors, type 0 normal), to every session that identified with
    /// GUILD_MESSAGE_REACTIONS and sees the channel.
    /// </summary>
    public async Task ReactAsync(string memberId, FakeMessage message, string emoji)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_channels.TryGetValue(message.ChannelId, out var channel))
        {
            return;
        }

        var data = new JsonObject
        {
            ["user_id"] = memberId,
            ["channel_id"] = message.ChannelId,
            ["message_id"] = message.Id,
            ["guild_id"] = GuildId,
            ["member"] = new JsonObject
            {
                ["user"] = UserJson(memberId),
                ["roles"] = new JsonArray(),
                ["joined_at"] = "2024-01-01T00:00:00.000000+00:00",
                ["deaf"] = false,
                ["mute"] = false,
                ["flags"] = 0,
            },
            ["emoji"] = new JsonObject { ["id"] = null, ["name"] = emoji },
            ["message_author_id"] = message.AuthorId,
            ["burst"] = false,
            ["burst_colors"] = new JsonArray(),
            ["type"] = 0,
        };
        foreach (var session in _sessions.Values.Where(s =>
                     (s.Intents & GuildMessageReactionsIntent) != 0 && CanView(channel, s.Bot.UserId, GuildId)))
        {
            await session.DispatchAsync("MESSAGE_REACTION_ADD", data.DeepClone());
        }
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

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

    /// <summary>
    /// GET the members who reacted with one emoji (List Message Reactions By Emoji), as Discord documents it: the emoji
    /// URL-encoded in the path (10014 Unknown Emoji for one that is no emoji), <c>after</c> a user id and <c>limit</c>
    /// 1–100 (default 25), users in the order of their ids.
    /// </summary>
    private void MapReactions(RouteGroupBuilder api) =>
        Route(api, "GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}", (ctx, bot, _) =>
        {
            if (ReadableMessage(ctx, bot, out var message) is { } refused)
            {
                return Task.FromResult(refused);
            }

            var emoji = (string)ctx.Request.RouteValues["emoji_name"]!;
            if (emoji.Length == 0 || emoji.Any(char.IsAsciiLetterOrDigit))
            {
                return Task.FromResult(Error(400, 10014, "Unknown Emoji"));
            }

            var query = ctx.Request.Query;
            ulong after = 0;
            var limit = 25;
            if (query.ContainsKey("after") && !ulong.TryParse(query["after"], NumberStyles.None, CultureInfo.InvariantCulture, out after)
                || query.ContainsKey("limit") && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit)
                                                  || limit is < 1 or > 100)
                || query.ContainsKey("type") && query["type"] != "0" && query["type"] != "1")
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
            }

            var users = _reactions.Keys
                .Where(r => r.Message == message!.Id && r.Emoji == emoji && query["type"] != "1")
                .Select(r => ulong.Parse(r.Member, CultureInfo.InvariantCulture)).Where(id => id > after).Order().Take(limit)
                .Select(id => (JsonNode)UserJson(id.ToString(CultureInfo.InvariantCulture)));
            return Task.FromResult(Results.Json(new JsonArray([.. users])));
        });

    /// <summary>
    /// The message object as GET returns it: with <c>reactions</c> (each emoji's count, count_details, whether the bot
    /// itself gave it, burst_colors) when it has any.
    /// </summary>
    private JsonObject WithReactions(JsonObject json, FakeMessage message, FakeBot viewer)
    {
        var reactions = _reactions.Keys.Where(r => r.Message == message.Id).GroupBy(r => r.Emoji).ToList();
        if (reactions.Count > 0)
        {
            json["reactions"] = new JsonArray([.. reactions.Select(g => (JsonNode)new JsonObject
            {
                ["count"] = g.Count(),
                ["count_details"] = new JsonObject { ["burst"] = 0, ["normal"] = g.Count() },
                ["me"] = g.Any(r => r.Member == viewer.UserId),
                ["me_burst"] = false,
                ["emoji"] = new JsonObject { ["id"] = null, ["name"] = g.Key },
                ["burst_colors"] = new JsonArray(),
            })]);
        }

        return json;
    }

    /// <summary>
    /// Null when the bot may read the route's message; else Discord's refusal: 404 Unknown Channel or Unknown Message,
    /// 403 Missing Access without VIEW_CHANNEL or READ_MESSAGE_HISTORY.
    /// </summary>
    private IResult? ReadableMessage(HttpContext ctx, FakeBot bot, out FakeMessage? message)
    {
        message = null;
        var channelId = (string)ctx.Request.RouteValues["channel_id"]!;
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return Error(404, 10003, "Unknown Channel");
        }

        if ((Permissions(channel, bot.UserId, GuildId) & (ViewChannel | ReadMessageHistory)) != (ViewChannel | ReadMessageHistory))
        {
            return Error(403, 50001, "Missing Access");
        }

        var messageId = (string)ctx.Request.RouteValues["message_id"]!;
        message = Messages(channelId).FirstOrDefault(m => m.Id == messageId);
        return message is null ? Error(404, 10008, "Unknown Message") : null;
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

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Discord.Tests.Fake;
// The fake Discord's JSON objects Discord sends (users, messages, channels) and its error bodies.
public sealed partial class FakeDiscordServer
{
    private JsonObject MessageJson(FakeMessage message) => MessageJson(message, withReferenced: true);

    /// <summary>A user object as Discord sends it: a bot of this fake, a member added by name, or an unknown human.</summary>
    private JsonObject UserJson(string id)
    {
        var bot = _botsByToken.Values.FirstOrDefault(b => b.UserId == id);
        return new JsonObject
        {
            ["id"] = id,
            ["username"] = bot?.Username ?? _members.GetValueOrDefault(id) ?? "human",
            ["global_name"] = bot is null ? _members.GetValueOrDefault(id) : null,
            ["bot"] = bot is not null,
        };
    }

    /// <summary>
    /// The message object: <c>mentions</c> holds the users its content mentions (<c>&lt;@id&gt;</c> or
    /// <c>&lt;@!id&gt;</c>); a reply (type 19) has <c>message_reference</c> and, one level deep,
    /// <c>referenced_message</c> (null when that message was deleted).
    /// </summary>
    private JsonObject MessageJson(FakeMessage message, bool withReferenced)
    {
        var attachments = new JsonArray();
        if (message.Attachment is { } a)
        {
            attachments.Add(new JsonObject
            {
                ["id"] = a.Id,
                ["filename"] = a.Filename,
                ["size"] = a.Content.Length,
                ["url"] = $"{BaseUrl}/attachments/{a.Id}/{a.Filename}?ex=signed",
            });
        }

        return new JsonObject
        {
            ["id"] = message.Id,
            ["channel_id"] = message.ChannelId,
            ["guild_id"] = GuildId,
            ["author"] = message.Unreadable ? message.AuthorId : UserJson(message.AuthorId),
            ["content"] = message.Content,
            ["attachments"] = attachments,
            ["nonce"] = message.Nonce,
            ["type"] = message.ReplyToId is null ? 0 : 19,
            ["mentions"] = new JsonArray([.. System.Text.RegularExpressions.Regex.Matches(message.Content, "<@!?([0-9]{17,20})>")
                .Select(m => m.Groups[1].Value).Distinct().Select(id => (JsonNode)UserJson(id))]),
            ["message_reference"] = message.ReplyToId is null ? null : new JsonObject
            {
                ["type"] = 0,
                ["message_id"] = message.ReplyToId,
                ["channel_id"] = message.ChannelId,
                ["guild_id"] = GuildId,
            },
            ["referenced_message"] = message.ReplyToId is null || !withReferenced ? null
                : Messages(message.ChannelId).FirstOrDefault(m => m.Id == message.ReplyToId) is { } referenced
                    ? MessageJson(referenced, withReferenced: false)
                    : null,
        };
    }

    private static JsonObject ChannelJson(FakeChannel channel, string guildId) => new()
    {
        ["id"] = channel.Id,
        ["type"] = channel.Type,
        ["name"] = channel.Name,
        ["guild_id"] = guildId,
        ["parent_id"] = channel.ParentId,
        ["topic"] = channel.Topic,
        ["permission_overwrites"] = JsonNode.Parse(channel.Overwrites.ToJsonString()),
    };

    private static IResult Error(int status, int code, string message) =>
        Results.Json(new { message, code }, statusCode: status);

    /// <summary>What Discord answers when a category already holds 50 channels: an invalid form, the reason on parent_id.</summary>
    private IResult CategoryFull() =>
        InvalidForm("parent_id", "CHANNEL_PARENT_MAX_CHANNELS", $"Maximum number of channels in category reached ({CategoryChannelLimit})");

    /// <summary>Discord's 400 for a form field it refuses (code 50035), the reason under the field's <c>_errors</c>.</summary>
    private static IResult InvalidForm(string field, string code, string message) => Results.Json(new JsonObject
    {
        ["message"] = "Invalid Form Body",
        ["code"] = 50035,
        ["errors"] = new JsonObject
        {
            [field] = new JsonObject
            {
                ["_errors"] = new JsonArray(new JsonObject { ["code"] = code, ["message"] = message }),
            },
        },
    }, statusCode: 400);
}

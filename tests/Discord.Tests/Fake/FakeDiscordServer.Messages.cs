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
// The fake Discord's message routes.
public sealed partial class FakeDiscordServer
{
    /// <summary>A channel's messages: posted, read by page, edited; and typing.</summary>
    private void MapMessages(RouteGroupBuilder api)
    {
        Route(api, "POST", "/channels/{channel_id}/messages", CreateMessageAsync);
        Route(api, "GET", "/channels/{channel_id}/messages", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            if (!CanView(channel, bot.UserId, GuildId))
            {
                return Task.FromResult(Error(403, 50001, "Missing Access"));
            }

            // As Discord documents it: limit 1-100 (default 50); around, before and after are snowflakes, and only one
            // of them may be given.
            var query = ctx.Request.Query;
            var limit = 50;
            if (query.ContainsKey("limit") && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit)
                                                || limit is < 1 or > 100))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
            }

            var anchors = new[] { "around", "before", "after" }.Where(query.ContainsKey).ToArray();
            ulong anchor = 0;
            if (anchors.Length > 1
                || (anchors.Length == 1 && !ulong.TryParse(query[anchors[0]], NumberStyles.None, CultureInfo.InvariantCulture, out anchor)))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
            }

            // With `after`, the `limit` messages that follow it (the oldest ones after it, so a reader can page
            // forward); with `before`, the ones right before it; with `around`, those on either side of it; with none,
            // the newest. Every page comes newest first.
            var ordered = Messages(id).OrderBy(m => ulong.Parse(m.Id, CultureInfo.InvariantCulture)).ToList();
            ulong IdOf(FakeMessage m) => ulong.Parse(m.Id, CultureInfo.InvariantCulture);
            var page = anchors.FirstOrDefault() switch
            {
                "after" => ordered.Where(m => IdOf(m) > anchor).Take(limit).ToList(),
                "before" => ordered.Where(m => IdOf(m) < anchor).TakeLast(limit).ToList(),
                "around" => [.. ordered.Where(m => IdOf(m) < anchor).TakeLast(limit / 2),
                    .. ordered.Where(m => IdOf(m) >= anchor).Take(limit - limit / 2)],
                _ => ordered.TakeLast(limit).ToList(),
            };
            return Task.FromResult(Results.Json(page.AsEnumerable().Reverse().Select(MessageJson).ToList()));
        });
        Route(api, "GET", "/channels/{channel_id}/messages/{message_id}", (ctx, bot, _) =>
            Task.FromResult(ReadableMessage(ctx, bot, out var message) ?? Results.Json(WithReactions(MessageJson(message!), message!, bot))));
        Route(api, "PATCH", "/channels/{channel_id}/messages/{message_id}", (ctx, bot, body) =>
        {
            var channelId = (string)ctx.Request.RouteValues["channel_id"]!;
            var messageId = (string)ctx.Request.RouteValues["message_id"]!;
            var message = Messages(channelId).FirstOrDefault(m => m.Id == messageId);
            if (message is null)
            {
                return Task.FromResult(Error(404, 10008, "Unknown Message"));
            }

            if (message.AuthorId != bot.UserId)
            {
                return Task.FromResult(Error(403, 50005, "Cannot edit a message authored by another user"));
            }

            if (JsonNode.Parse(body!)?["content"]?.GetValue<string>() is { } content)
            {
                if (content.Length > MaxContent)
                {
                    return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
                }

                message.Content = content;
                message.Edits++;
            }

            _ = BroadcastAsync(channelId, "MESSAGE_UPDATE", MessageJson(message));
            return Task.FromResult(Results.Json(MessageJson(message)));
        });
        Route(api, "POST", "/channels/{channel_id}/typing", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            _typing.AddOrUpdate(id, 1, (_, n) => n + 1);
            return Task.FromResult(CanView(channel, bot.UserId, GuildId) ? Results.NoContent() : Error(403, 50001, "Missing Access"));
        });
    }

    private async Task<IResult> CreateMessageAsync(HttpContext ctx, FakeBot bot, string? body)
    {
        var channelId = (string)ctx.Request.RouteValues["channel_id"]!;
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            return Error(404, 10003, "Unknown Channel");
        }

        if (!CanView(channel, bot.UserId, GuildId))
        {
            return Error(403, 50001, "Missing Access");
        }

        // Seeing a channel is not enough to post there: SEND_MESSAGES, and ATTACH_FILES for a file (an archived chat's
        // channel lets the bots read, not write).
        var permissions = Permissions(channel, bot.UserId, GuildId);
        if ((permissions & SendMessages) == 0 || (ctx.Items["file"] is not null && (permissions & AttachFiles) == 0))
        {
            return Error(403, 50013, "Missing Permissions");
        }

        FakeAttachment? attachment = null;
        if (ctx.Items["file"] is (string filename, byte[] bytes))
        {
            attachment = new FakeAttachment(NextId(), filename, bytes);
        }

        var request = JsonNode.Parse(body!)!.AsObject();
        var content = request["content"]?.GetValue<string>() ?? "";
        if (content.Length > MaxContent)
        {
            return Error(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length.");
        }

        if (content.Length == 0 && attachment is null)
        {
            return Error(400, 50006, "Cannot send an empty message");
        }

        var nonce = request["nonce"]?.ToString();
        if (request["enforce_nonce"]?.GetValue<bool>() == true && nonce is not null)
        {
            var existing = Messages(channelId).FirstOrDefault(m => m.AuthorId == bot.UserId && m.Nonce == nonce);
            if (existing is not null)
            {
                return Results.Json(MessageJson(existing));
            }
        }

        // A reply names a message of the same channel; an unknown one is refused unless fail_if_not_exists is false,
        // when the message is posted as a plain one.
        string? replyTo = null;
        if (request["message_reference"] is JsonObject reference)
        {
            var referencedId = reference["message_id"]?.GetValue<string>();
            var referenceChannel = reference["channel_id"]?.GetValue<string>() ?? channelId;
            var exists = referenceChannel == channelId && Messages(channelId).Any(m => m.Id == referencedId);
            if (!exists && reference["fail_if_not_exists"]?.GetValue<bool>() != false)
            {
                return InvalidForm("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message");
            }

            replyTo = exists ? referencedId : null;
        }

        await Task.Yield();
        return Results.Json(MessageJson(StoreMessage(channelId, bot.UserId, content, attachment, nonce, replyTo)));
    }
}

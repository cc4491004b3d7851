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
// The fake Discord's channel routes.
public sealed partial class FakeDiscordServer
{
    /// <summary>A channel: read, changed (name, parent, overwrites), deleted.</summary>
    private void MapChannels(RouteGroupBuilder api)
    {
        Route(api, "GET", "/channels/{channel_id}", (ctx, bot, _) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (!_channels.TryGetValue(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            return Task.FromResult(CanView(channel, bot.UserId, GuildId)
                ? Results.Json(ChannelJson(channel, GuildId))
                : Error(403, 50001, "Missing Access"));
        });
        Route(api, "PATCH", "/channels/{channel_id}", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            var request = JsonNode.Parse(body!)!.AsObject();
            // Moving a channel needs MANAGE_CHANNELS; changing its overwrites, MANAGE_ROLES (Modify Channel).
            var needed = (request.ContainsKey("parent_id") ? ManageChannels : 0) | (request.ContainsKey("permission_overwrites") ? ManageRoles : 0);
            if (RefuseUnlessAllowed(bot, needed, request["permission_overwrites"]) is { } refused)
            {
                return Task.FromResult(refused);
            }

            lock (_lock)
            {
                if (!_channels.TryGetValue(id, out var channel))
                {
                    return Task.FromResult(Error(404, 10003, "Unknown Channel"));
                }

                if (!CanView(channel, bot.UserId, GuildId))
                {
                    return Task.FromResult(Error(403, 50001, "Missing Access"));
                }

                if (request.ContainsKey("permission_overwrites") && RefuseUnlessManagesOverwrites(bot, channel) is { } notHere)
                {
                    return Task.FromResult(notHere);
                }

                var parent = request.ContainsKey("parent_id") ? request["parent_id"]?.GetValue<string>() : channel.ParentId;
                if (parent is not null && parent != channel.ParentId)
                {
                    if (!_channels.TryGetValue(parent, out var category) || category.Type != 4)
                    {
                        return Task.FromResult(Error(400, 50035, "Invalid Form Body: parent_id is not a category"));
                    }

                    if (_channels.Values.Count(c => c.ParentId == parent) >= CategoryChannelLimit)
                    {
                        return Task.FromResult(CategoryFull());
                    }
                }

                var changed = channel with
                {
                    ParentId = parent,
                    Topic = request.ContainsKey("topic") ? request["topic"]?.GetValue<string>() : channel.Topic,
                    Overwrites = request["permission_overwrites"]?.AsArray() is { } o
                        ? JsonNode.Parse(o.ToJsonString())!.AsArray()
                        : channel.Overwrites,
                };
                _channels[id] = changed;
                _ = BroadcastAsync(id, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
                return Task.FromResult(Results.Json(ChannelJson(changed, GuildId)));
            }
        });
        // Edit Channel Permissions: one overwrite set (or replaced), the others left as they are; 204.
        Route(api, "PUT", "/channels/{channel_id}/permissions/{overwrite_id}", (ctx, bot, body) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            var target = (string)ctx.Request.RouteValues["overwrite_id"]!;
            var request = JsonNode.Parse(body!)!.AsObject();
            var overwrite = new JsonObject
            {
                ["id"] = target,
                ["type"] = request["type"]?.GetValue<int>() ?? 1,
                ["allow"] = Bits(request["allow"]).ToString(CultureInfo.InvariantCulture),
                ["deny"] = Bits(request["deny"]).ToString(CultureInfo.InvariantCulture),
            };
            return Task.FromResult(ChangeOverwrite(bot, id, target, overwrite));
        });
        Route(api, "DELETE", "/channels/{channel_id}/permissions/{overwrite_id}", (ctx, bot, _) =>
            Task.FromResult(ChangeOverwrite(bot, (string)ctx.Request.RouteValues["channel_id"]!,
                (string)ctx.Request.RouteValues["overwrite_id"]!, null)));
        Route(api, "DELETE", "/channels/{channel_id}", (ctx, bot, noBody) =>
        {
            var id = (string)ctx.Request.RouteValues["channel_id"]!;
            if (RefuseUnlessAllowed(bot, ManageChannels, null) is { } refused)
            {
                return Task.FromResult(refused);
            }

            if (!_channels.TryRemove(id, out var channel))
            {
                return Task.FromResult(Error(404, 10003, "Unknown Channel"));
            }

            // Every bot that could see it hears it is gone (the GUILDS intent's CHANNEL_DELETE, with the channel object).
            _ = BroadcastAsync(channel, "CHANNEL_DELETE", ChannelJson(channel, GuildId));
            return Task.FromResult(Results.Json(ChannelJson(channel, GuildId)));
        });
    }

    private Task<IResult> CreateChannelAsync(HttpContext ctx, FakeBot bot, string? body)
    {
        var request = JsonNode.Parse(body!)!.AsObject();
        var parent = request["parent_id"]?.GetValue<string>();
        if ((GuildRefusal(ctx, bot) ?? RefuseUnlessAllowed(bot, ManageChannels, request["permission_overwrites"])) is { } refused)
        {
            return Task.FromResult(refused);
        }

        var type = request["type"]?.GetValue<int>() ?? 0;
        var name = request["name"]?.GetValue<string>() ?? "";
        if (name.Length is < 1 or > 100 || (type == 4 && parent is not null))
        {
            // Names are 1–100 characters; a category cannot sit in another category.
            return Task.FromResult(Error(400, 50035, "Invalid Form Body"));
        }

        lock (_lock)
        {
            if (parent is not null && (!_channels.TryGetValue(parent, out var category) || category.Type != 4))
            {
                return Task.FromResult(Error(400, 50035, "Invalid Form Body: parent_id is not a category"));
            }

            var text = _channels.Values.Count(c => c.Type != 4);
            if (text >= GuildChannelLimit)
            {
                return Task.FromResult(Error(400, 30013, "Maximum number of guild channels reached (500)"));
            }

            if (parent is not null && _channels.Values.Count(c => c.ParentId == parent) >= CategoryChannelLimit)
            {
                return Task.FromResult(CategoryFull());
            }

            var channel = new FakeChannel(NextId(), name, type,
                parent, request["topic"]?.GetValue<string>(), request["permission_overwrites"]?.AsArray() is { } o
                    ? JsonNode.Parse(o.ToJsonString())!.AsArray()
                    : []);
            _channels[channel.Id] = channel;
            _ = BroadcastAsync(channel.Id, "CHANNEL_CREATE", ChannelJson(channel, GuildId));
            return Task.FromResult(Results.Json(ChannelJson(channel, GuildId)));
        }
    }
}

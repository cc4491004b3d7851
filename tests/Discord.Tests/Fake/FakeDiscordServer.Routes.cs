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
// The fake Discord's HTTP routes: the account, the guild, and where the other resources are mapped.
public sealed partial class FakeDiscordServer
{
    private void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.Map("/gateway", GatewayAsync);
        app.Map("/resume", GatewayAsync);
        app.MapGet("/attachments/{id}/{filename}", (string id) =>
        {
            if (Interlocked.Decrement(ref _attachmentFailures) >= 0 || DateTimeOffset.UtcNow < AttachmentOutageUntil)
            {
                Interlocked.Increment(ref _attachmentRefusals);
                return Results.StatusCode(503);
            }

            var attachment = AllMessages().Select(m => m.Attachment).FirstOrDefault(a => a?.Id == id);
            return attachment is null ? Results.NotFound() : Results.Bytes(attachment.Content, "application/octet-stream");
        });

        var api = app.MapGroup("/api/v10");
        MapAccount(api);
        MapGuild(api);
        MapChannels(api);
        MapMessages(api);
        MapReactions(api);
        MapInteractions(api);
    }

    /// <summary>The bot's own account: the gateway to connect to, its user and its application.</summary>
    private void MapAccount(RouteGroupBuilder api)
    {
        Route(api, "GET", "/gateway/bot", (_, _, _) => Task.FromResult(Results.Json(new
        {
            url = GatewayUrl,
            shards = 1,
            session_start_limit = new { total = 1000, remaining = 999, reset_after = 14_400_000, max_concurrency = 1 },
        })));
        // Get Current User: the bot's own user object (as Discord: discriminator "0" for migrated names).
        Route(api, "GET", "/users/@me", (_, bot, _) => Task.FromResult(Results.Json(new
        {
            id = bot.UserId, username = bot.Username, discriminator = "0", global_name = (string?)null, avatar = (string?)null,
            bot = true, flags = 0,
        })));
        // Get Current Application: the bot's application; its flags say which privileged intents the Portal enabled.
        Route(api, "GET", "/applications/@me", (_, bot, _) => Task.FromResult(Results.Json(new JsonObject
        {
            ["id"] = bot.ApplicationId,
            ["name"] = bot.Username,
            ["icon"] = null,
            ["description"] = "",
            ["type"] = null,
            ["bot"] = new JsonObject { ["id"] = bot.UserId, ["username"] = bot.Username, ["discriminator"] = "0", ["bot"] = true },
            ["bot_public"] = true,
            ["bot_require_code_grant"] = false,
            ["verify_key"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(bot.ApplicationId))).ToLowerInvariant(),
            ["flags"] = bot.MessageContentAllowed ? GatewayMessageContentLimited : 0,
            ["redirect_uris"] = new JsonArray(),
            ["interactions_endpoint_url"] = null,
            ["role_connections_verification_url"] = null,
            ["owner"] = new JsonObject { ["id"] = GuildId, ["username"] = "owner", ["discriminator"] = "0" },
            ["approximate_guild_count"] = bot.InGuild ? 1 : 0,
            ["team"] = null,
        })));
    }

    /// <summary>The guild: itself, its members and roles, its channels (listed and made).</summary>
    private void MapGuild(RouteGroupBuilder api)
    {
        // Get Guild: only the guild the fake's bots are members of; any other id is Discord's 404 Unknown Guild, and a
        // bot that is not (or no longer) a member gets 403 Missing Access.
        Route(api, "GET", "/guilds/{guild_id}", (ctx, bot, _) => Task.FromResult(
            GuildRefusal(ctx, bot)
            ?? Results.Json(new { id = GuildId, name = GuildName, owner_id = GuildId, roles = Array.Empty<object>(), features = Array.Empty<string>() })));
        // Get Guild Member: the bots that are members, with their managed role; anyone else is 404 Unknown Member.
        Route(api, "GET", "/guilds/{guild_id}/members/{user_id}", (ctx, bot, _) =>
        {
            if (GuildRefusal(ctx, bot) is { } refused)
            {
                return Task.FromResult(refused);
            }

            var userId = (string)ctx.Request.RouteValues["user_id"]!;
            var member = _botsByToken.Values.FirstOrDefault(b => b.UserId == userId && b.InGuild);
            return Task.FromResult(member is null
                ? Error(404, 10007, "Unknown Member")
                : Results.Json(new JsonObject
                {
                    ["user"] = new JsonObject { ["id"] = member.UserId, ["username"] = member.Username, ["discriminator"] = "0", ["bot"] = true },
                    ["nick"] = null,
                    ["avatar"] = null,
                    ["banner"] = null,
                    ["roles"] = new JsonArray(member.RoleId),
                    ["joined_at"] = "2026-01-01T00:00:00.000000+00:00",
                    ["premium_since"] = null,
                    ["deaf"] = false,
                    ["mute"] = false,
                    ["flags"] = 0,
                    ["pending"] = false,
                    ["communication_disabled_until"] = null,
                }));
        });
        // List Guild Roles: @everyone (its id is the guild's) and each member bot's managed role; bitsets as strings.
        Route(api, "GET", "/guilds/{guild_id}/roles", (ctx, bot, _) => Task.FromResult(GuildRefusal(ctx, bot) ?? Results.Json(
            new[] { Role(GuildId, "@everyone", EveryoneRolePermissions, 0, managed: false) }
                .Concat(_botsByToken.Values.Where(b => b.InGuild).Select((b, i) => Role(b.RoleId, b.Username, b.RolePermissions, i + 1, managed: true)))
                .ToList())));
        Route(api, "GET", "/guilds/{guild_id}/channels", (_, _, _) =>
            Task.FromResult(Results.Json(_channels.Values.Select(c => ChannelJson(c, GuildId)).ToList())));
        Route(api, "POST", "/guilds/{guild_id}/channels", CreateChannelAsync);
    }
}

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
// The fake Discord's permissions: the guild's roles, channel overwrites, and the checks Discord makes before a change.
public sealed partial class FakeDiscordServer
{
    /// <summary>
    /// Sets one overwrite on a channel as a guild admin would by hand (replacing the one with the same id), and tells the
    /// bots that may see the channel afterwards (CHANNEL_UPDATE).
    /// </summary>
    public FakeChannel SetOverwriteByHand(string channelId, string targetId, int type, ulong allow, ulong deny)
    {
        FakeChannel changed;
        lock (_lock)
        {
            changed = ReplaceOverwrite(_channels[channelId], targetId, new JsonObject
            {
                ["id"] = targetId,
                ["type"] = type,
                ["allow"] = allow.ToString(CultureInfo.InvariantCulture),
                ["deny"] = deny.ToString(CultureInfo.InvariantCulture),
            });
        }

        _ = BroadcastAsync(channelId, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
        return changed;
    }

    /// <summary>The channel with the overwrite of <paramref name="targetId"/> replaced (dropped when null), stored.</summary>
    private FakeChannel ReplaceOverwrite(FakeChannel channel, string targetId, JsonObject? overwrite)
    {
        var overwrites = JsonNode.Parse(channel.Overwrites.ToJsonString())!.AsArray();
        foreach (var same in overwrites.Where(o => o!["id"]?.GetValue<string>() == targetId).ToList())
        {
            overwrites.Remove(same);
        }

        if (overwrite is not null)
        {
            overwrites.Add(overwrite);
        }

        var changed = channel with { Overwrites = overwrites };
        _channels[channel.Id] = changed;
        return changed;
    }

    private static bool CanView(FakeChannel channel, string userId, string guildId) =>
        (Permissions(channel, userId, guildId) & ViewChannel) != 0;

    private const ulong ViewChannel = 1024, SendMessages = 2048, AttachFiles = 32768, ReadMessageHistory = 65536;

    /// <summary>Discord's permission bits (Permissions → Bitwise Permission Flags).</summary>
    public const ulong Administrator = 1UL << 3, ManageChannels = 1UL << 4, ManageRoles = 1UL << 28;

    /// <summary>
    /// The @everyone role's permissions in the guild (by default view, send, attach and read history, the base the
    /// channel overwrites start from here); a guild may take them away.
    /// </summary>
    public ulong EveryoneRolePermissions { get; set; } = ViewChannel | SendMessages | AttachFiles | ReadMessageHistory;

    /// <summary>The application flag the Developer Portal's Message Content switch sets for an unverified bot (1 &lt;&lt; 19).</summary>
    public const long GatewayMessageContentLimited = 1L << 19;

    /// <summary>
    /// A bot's permissions in the guild as Discord computes them (Permissions → Computing base permissions): @everyone's
    /// and its roles' combined; ADMINISTRATOR means every permission.
    /// </summary>
    public ulong GuildPermissionsOf(FakeBot bot)
    {
        var bits = EveryoneRolePermissions | bot.RolePermissions;
        return (bits & Administrator) != 0 ? ulong.MaxValue : bits;
    }

    /// <summary>
    /// Discord refuses a change the bot lacks the guild permission for (403, 50013 Missing Permissions), and an overwrite
    /// that allows or denies a permission the bot does not hold itself (Create Guild Channel: "only permissions your bot
    /// has in the guild … can be allowed/denied").
    /// </summary>
    private IResult? RefuseUnlessAllowed(FakeBot bot, ulong needed, JsonNode? overwrites)
    {
        var held = GuildPermissionsOf(bot);
        var granted = overwrites is JsonArray list
            ? list.OfType<JsonObject>().Aggregate(0UL, (all, o) => all | Bits(o["allow"]) | Bits(o["deny"]))
            : 0;
        return (held & needed) != needed || (granted & ~held) != 0 ? Error(403, 50013, "Missing Permissions") : null;
    }

    /// <summary>
    /// Discord refuses a change of a channel's overwrites to a bot without MANAGE_ROLES in that channel (403, 50013
    /// Missing Permissions): its guild permissions, then the channel's @everyone, role and member overwrites (an admin may
    /// take "Manage Permissions" from it in one channel); ADMINISTRATOR passes.
    /// </summary>
    private IResult? RefuseUnlessManagesOverwrites(FakeBot bot, FakeChannel channel)
    {
        var bits = GuildPermissionsOf(bot);
        if ((bits & Administrator) != 0)
        {
            return null;
        }

        foreach (var id in new[] { GuildId, bot.RoleId, bot.UserId })
        {
            foreach (var overwrite in channel.Overwrites.OfType<JsonObject>().Where(o => o["id"]?.GetValue<string>() == id))
            {
                bits &= ~Bits(overwrite["deny"]);
                bits |= Bits(overwrite["allow"]);
            }
        }

        return (bits & ViewChannel) != 0 && (bits & ManageRoles) != 0 ? null : Error(403, 50013, "Missing Permissions");
    }

    /// <summary>
    /// A member's permissions in a channel as Discord computes them (Permissions → Permission Overwrites): the guild's
    /// base (here @everyone's default view, send, attach and read history), then the @everyone overwrite's deny and
    /// allow, then the member's own deny and allow. No VIEW_CHANNEL takes every other channel permission away.
    /// </summary>
    private static ulong Permissions(FakeChannel channel, string userId, string guildId)
    {
        var permissions = ViewChannel | SendMessages | AttachFiles | ReadMessageHistory;
        foreach (var id in new[] { guildId, userId })
        {
            foreach (var overwrite in channel.Overwrites.OfType<JsonObject>().Where(o => o["id"]?.GetValue<string>() == id))
            {
                permissions &= ~Bits(overwrite["deny"]);
                permissions |= Bits(overwrite["allow"]);
            }
        }

        return (permissions & ViewChannel) != 0 ? permissions : 0;
    }

    private static ulong Bits(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var s) && ulong.TryParse(s, CultureInfo.InvariantCulture, out var bits)
            ? bits
            : node is JsonValue number && number.TryGetValue<ulong>(out var n) ? n : 0;

    /// <summary>
    /// PUT or DELETE of one overwrite, checked as Discord does: the bot must see the channel, hold MANAGE_ROLES in the
    /// guild and in the channel, and allow or deny only what it holds itself.
    /// </summary>
    private IResult ChangeOverwrite(FakeBot bot, string channelId, string targetId, JsonObject? overwrite)
    {
        FakeChannel changed;
        lock (_lock)
        {
            if (!_channels.TryGetValue(channelId, out var channel))
            {
                return Error(404, 10003, "Unknown Channel");
            }

            if (!CanView(channel, bot.UserId, GuildId))
            {
                return Error(403, 50001, "Missing Access");
            }

            if ((RefuseUnlessAllowed(bot, ManageRoles, overwrite is null ? null : new JsonArray(JsonNode.Parse(overwrite.ToJsonString())))
                 ?? RefuseUnlessManagesOverwrites(bot, channel)) is { } refused)
            {
                return refused;
            }

            changed = ReplaceOverwrite(channel, targetId, overwrite);
        }

        _ = BroadcastAsync(channelId, "CHANNEL_UPDATE", ChannelJson(changed, GuildId));
        return Results.NoContent();
    }

    /// <summary>404 Unknown Guild for another guild's id; 403 Missing Access for a bot that is not a member.</summary>
    private IResult? GuildRefusal(HttpContext ctx, FakeBot bot) =>
        (string)ctx.Request.RouteValues["guild_id"]! != GuildId ? Error(404, 10004, "Unknown Guild")
        : !bot.InGuild ? Error(403, 50001, "Missing Access")
        : null;

    private static JsonObject Role(string id, string name, ulong permissions, int position, bool managed) => new()
    {
        ["id"] = id,
        ["name"] = name,
        ["permissions"] = permissions.ToString(CultureInfo.InvariantCulture),
        ["position"] = position,
        ["color"] = 0,
        ["hoist"] = false,
        ["managed"] = managed,
        ["mentionable"] = false,
        ["icon"] = null,
        ["unicode_emoji"] = null,
        ["flags"] = 0,
    };
}

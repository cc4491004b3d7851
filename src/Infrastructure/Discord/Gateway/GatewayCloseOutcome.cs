using System.Net.WebSockets;

namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>How the client goes on after a connection ended: resume, identify afresh, or stop (fatal).</summary>
internal sealed record GatewayCloseOutcome(bool CanResume, DiscordGatewayFatalException? Fatal, string? Description = null)
{
    public static readonly GatewayCloseOutcome Resume = new(true, null);
    public static readonly GatewayCloseOutcome Reidentify = new(false, null);

    public static GatewayCloseOutcome FatalWith(int code, string message) => new(false, new DiscordGatewayFatalException(code, message));

    /// <summary>What a close code means for us (Discord's table in PROTOCOL.md).</summary>
    public static GatewayCloseOutcome FromClose(WebSocketCloseStatus? status, string? description)
    {
        var code = status is null ? 0 : (int)status.Value;
        return code switch
        {
            4004 => FatalWith(code, "Discord rejected the bot token (close 4004 authentication failed): check Discord:BotToken."),
            4010 => FatalWith(code, "Discord refused the shard (close 4010 invalid shard)."),
            4011 => FatalWith(code, "Discord requires sharding for this bot (close 4011)."),
            4012 => FatalWith(code, "Discord refused the gateway version (close 4012 invalid API version)."),
            4013 => FatalWith(code, "Discord refused the intents (close 4013 invalid intents)."),
            4014 => FatalWith(code,
                "MESSAGE_CONTENT intent is not enabled for this bot (close 4014 disallowed intents): enable \"Message Content Intent\" for the bot in the Discord Developer Portal."),
            4007 or 4009 => Reidentify,
            _ => Resume, // No code (a drop), 1000/1001 from the server, 4000-4003, 4005, 4008 and unknown ones.
        } with { Description = description };
    }
}

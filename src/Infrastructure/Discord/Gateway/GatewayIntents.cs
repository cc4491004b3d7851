namespace MeatLizard.Infrastructure.Discord.Gateway;

/// <summary>Gateway intents (bit flags).</summary>
[Flags]
public enum GatewayIntents
{
    None = 0,
    Guilds = 1,
    GuildMessages = 512,

    /// <summary>MESSAGE_REACTION_ADD/REMOVE in guild channels (not privileged).</summary>
    GuildMessageReactions = 1024,
    DirectMessages = 4096,
    MessageContent = 32768,
}

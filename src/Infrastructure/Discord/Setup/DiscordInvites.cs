using System.Globalization;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// The guild permissions each bot is invited with, derived from the calls it makes, and the invite URLs that ask for
/// exactly them. A bot asking for more than it uses is a risk an operator should not have to take.
/// </summary>
public static class DiscordInvites
{
    /// <summary>
    /// The server bot: 268536848.
    /// <list type="bullet">
    /// <item>MANAGE_CHANNELS (16): <c>POST /guilds/{id}/channels</c> (the categories, the control channel and a channel per
    /// chat), <c>DELETE /channels/{id}</c> (reclaimed chats), <c>PATCH /channels/{id}</c> with <c>parent_id</c> (archiving).</item>
    /// <item>MANAGE_ROLES (268435456): <c>PATCH /channels/{id}</c> with <c>permission_overwrites</c> (archiving locks a
    /// channel), <c>PUT</c>/<c>DELETE /channels/{id}/permissions/{bot id}</c> (a newly listed client bot is let into open
    /// channels, one taken off the list left out).</item>
    /// <item>VIEW_CHANNEL (1024), SEND_MESSAGES (2048), ATTACH_FILES (32768), READ_MESSAGE_HISTORY (65536): it reads and
    /// posts envelopes (long ones as files) and the metrics summary, and catches up on missed messages; and Discord lets a
    /// bot allow in an overwrite only what it holds itself, so the relay channels can grant the client bots these four
    /// only if the server bot has them in the guild.</item>
    /// </list>
    /// Slash commands need no permission: the <c>applications.commands</c> scope registers them and interactions are
    /// answered through their own token.
    /// </summary>
    public const ulong ServerBot = DiscordPermissions.ManageChannels | DiscordPermissions.ManageRoles | DiscordPermissions.ViewChannel
                                   | DiscordPermissions.SendMessages | DiscordPermissions.AttachFiles | DiscordPermissions.ReadMessageHistory;

    /// <summary>
    /// A client bot: none. It only reads and writes in the relay channels, and each of those lets it in by a member
    /// overwrite the server bot sets (<see cref="DiscordPermissions.RelayBot"/>); it registers no commands.
    /// </summary>
    public const ulong ClientBot = 0;

    /// <summary>Stands for an application id the server bot cannot know (a client bot's), to be replaced by the operator.</summary>
    public const string ApplicationIdPlaceholder = "APPLICATION_ID";

    private static readonly (ulong Bit, string Name)[] s_names =
    [
        (DiscordPermissions.Administrator, "Administrator"),
        (DiscordPermissions.ManageChannels, "Manage Channels"),
        (DiscordPermissions.ViewChannel, "View Channels"),
        (DiscordPermissions.SendMessages, "Send Messages"),
        (DiscordPermissions.AttachFiles, "Attach Files"),
        (DiscordPermissions.ReadMessageHistory, "Read Message History"),
        (DiscordPermissions.ManageRoles, "Manage Roles"),
    ];

    /// <summary>The server bot's invite: the bot and its slash commands, with <see cref="ServerBot"/>.</summary>
    public static string ServerBotUrl(string applicationId) => Url(applicationId, "bot%20applications.commands", ServerBot);

    /// <summary>A client bot's invite: the bot only (it has no commands), with <see cref="ClientBot"/>.</summary>
    public static string ClientBotUrl(string applicationId) => Url(applicationId, "bot", ClientBot);

    /// <summary>The permissions as the Developer Portal and Server Settings name them, e.g. "Manage Roles, Attach Files".</summary>
    public static string Names(ulong bits) =>
        string.Join(", ", s_names.Where(n => (bits & n.Bit) != 0).Select(n => n.Name));

    private static string Url(string applicationId, string scope, ulong permissions) =>
        $"https://discord.com/oauth2/authorize?client_id={applicationId}&scope={scope}&permissions={permissions.ToString(CultureInfo.InvariantCulture)}";
}

using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Presentation.DiscordServer.Commands;

/// <summary>
/// The slash commands every member sees (no <c>default_member_permissions</c>): chatting with the model
/// (<c>/ask</c>), and the chat commands every network has (<c>/model</c> and <c>/status</c> shared with the admins'), answered by the channel handler's
/// <see cref="Application.Channels.IChannelCommands"/>.
/// </summary>
public static class MemberSlashCommands
{
    public static IReadOnlyList<ApplicationCommand> Definitions { get; } =
    [
        new("ask", "Ask the model; the answer is posted here",
            [new(AdminSlashCommands.StringOption, "prompt", "Your question", Required: true)], DefaultMemberPermissions: null),
        new("reset", "Start over: your next question begins a new chat", DefaultMemberPermissions: null),
        new("persona", "Start your new chats as a persona (no name: the list)",
            [new(AdminSlashCommands.StringOption, "name", "The persona's name, or none", Required: false)],
            DefaultMemberPermissions: null),
        new("search", "Find your chats: the best few matches, only you see them",
            [new(AdminSlashCommands.StringOption, "words", "The words to look for", Required: true)],
            DefaultMemberPermissions: null),
        new("share", "A read-only link to your chat here, only you see it",
            [new(AdminSlashCommands.BooleanOption, "revoke", "End this chat's share links instead")],
            DefaultMemberPermissions: null),
        new("help", "What the bot does and its commands", DefaultMemberPermissions: null),
        new("link", "Attach your Discord account to your MeatLizard web account",
            [
                new(AdminSlashCommands.StringOption, "code", "The code the web app showed you", Required: true),
                new(AdminSlashCommands.BooleanOption, "confirm", "Link now: first send the code alone to see which account it is"),
            ], DefaultMemberPermissions: null),
    ];

    /// <summary>
    /// The commands a member runs: those above, and <c>/model</c> and <c>/status</c>, which everyone sees: for an admin
    /// they stay the admin's (the platform's default model, the full status), for a member they are the member's own.
    /// </summary>
    public static bool IsKnown(SlashInvocation invocation, bool byAdmin) =>
        Definitions.Any(d => d.Name == invocation.Name) || !byAdmin && Shared.Contains(invocation.Name);

    /// <summary>Admin commands every member sees too, and runs as a member's.</summary>
    public static IReadOnlySet<string> Shared { get; } = new HashSet<string>(StringComparer.Ordinal) { "model", "status" };
}

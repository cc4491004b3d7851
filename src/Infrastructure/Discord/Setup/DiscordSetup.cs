using System.Globalization;
using System.Numerics;
using MeatLizard.Infrastructure.Discord.Relay;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Doctor;

namespace MeatLizard.Infrastructure.Discord.Setup;

/// <summary>
/// The server bot's <c>setup</c> verb: checks the token, the application's intents and the bot's permissions in the
/// guild, and only when all of them pass makes what the relay needs — the relay category, the archive category and the
/// control channel (each found by id or by name first, so a second run makes nothing) — registers the slash commands,
/// writes the ids into a settings file and prints both bots' invite URLs. One line per step, as the <c>doctor</c> verb
/// prints them; a failure says what to do and the verb exits 1. The token is never printed or written. The steps asked
/// for beside Discord's (<see cref="ISetupStep"/>: the server bot's web admin) are checked with it and run after it.
/// </summary>
public sealed class DiscordSetup(DiscordRestClient rest, DiscordOptions options, IEnumerable<ISetupStep> steps)
{
    private static readonly BigInteger s_sixtyFourBits = ulong.MaxValue;

    /// <summary>Runs the verb; 0 when everything is in place, 1 when a check failed (then nothing was changed).</summary>
    public async Task<int> RunAsync(IReadOnlyList<ApplicationCommand> commands, SettingsFile settings, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commands);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        var checks = await CheckAsync(cancellationToken);
        var stepsChecked = true;
        foreach (var line in checks.Lines)
        {
            await output.WriteLineAsync(line.ToString());
        }

        // Every check is made and shown, Discord's and the other steps', so one run names everything to fix.
        foreach (var step in steps)
        {
            foreach (var line in await step.CheckAsync(cancellationToken))
            {
                stepsChecked &= line.Ok;
                await output.WriteLineAsync(line.ToString());
            }
        }

        if (checks.Found is not { } found || !stepsChecked)
        {
            await output.WriteLineAsync("Nothing was changed in Discord or written: fix the FAIL lines and run setup again.");
            return 1;
        }

        var category = await CategoryAsync("discord category", found.Category, options.CategoryName, found, cancellationToken);
        var archive = await CategoryAsync("discord archive category", found.Archive, options.ArchiveCategoryName, found, cancellationToken);
        var control = await ControlChannelAsync(category, found, output, cancellationToken);
        await rest.BulkOverwriteGuildCommandsAsync(found.Application.Id, found.Guild.Id, commands, cancellationToken);
        await Ok("discord commands", $"{commands.Count} registered in {found.Guild.Name} ({string.Join(", ", commands.Select(c => "/" + c.Name))})");

        var written = new (string Key, string Value)[]
        {
            ("Discord:GuildId", found.Guild.Id),
            ("Discord:ApplicationId", found.Application.Id),
            ("Discord:ServerBotUserId", found.Self.Id),
            ("Discord:CategoryId", category),
            ("Discord:ArchiveCategoryId", archive),
            ("Discord:ControlChannelId", control),
        };
        foreach (var (key, value) in written)
        {
            settings.Set(key, value);
        }

        settings.Save();
        await Ok("settings file", $"wrote {string.Join(", ", written.Select(w => $"{w.Key}={w.Value}"))} to {settings.Path} (mode 0600; the token is not in it)");
        var stepsDone = true;
        foreach (var step in steps)
        {
            foreach (var line in await step.RunAsync(cancellationToken))
            {
                stepsDone &= line.Ok;
                await output.WriteLineAsync(line.ToString());
            }
        }

        await output.WriteLineAsync(
            $"client bot settings: Discord:GuildId={found.Guild.Id} Discord:CategoryId={category} Discord:ServerBotUserId={found.Self.Id}");
        await output.WriteLineAsync($"invite the server bot: {DiscordInvites.ServerBotUrl(found.Application.Id)}");
        // The server bot's token cannot tell another application's id, and a client bot's user id need not be it.
        await output.WriteLineAsync(
            $"invite each client bot: {DiscordInvites.ClientBotUrl(DiscordInvites.ApplicationIdPlaceholder)} "
            + "(put its Application ID there: Developer Portal → its application → General Information)");
        return stepsDone ? 0 : 1;

        Task Ok(string check, string detail) => output.WriteLineAsync(DoctorResult.Pass(check, detail).ToString());

        async Task<string> CategoryAsync(string check, DiscordChannel? existing, string name, Found where, CancellationToken token)
        {
            if (existing is not null)
            {
                await Ok(check, $"found {existing.Name} ({existing.Id})");
                return existing.Id;
            }

            var made = await rest.CreateGuildChannelAsync(where.Guild.Id, new CreateChannelRequest(name, DiscordChannelTypes.GuildCategory, null,
                null, HiddenCategory(where.Guild.Id, where.Self.Id)), token);
            await Ok(check, $"created {made.Name} ({made.Id}), hidden from @everyone");
            return made.Id;
        }
    }

    /// <summary>
    /// A category only the server bot sees: @everyone may not view it, and the server bot may manage the channels it makes
    /// there. The channels under it carry their own overwrites (<see cref="DiscordRelayChannels.PrivateChannel"/>).
    /// </summary>
    public static IReadOnlyList<PermissionOverwrite> HiddenCategory(string guildId, string serverBotUserId) =>
    [
        PermissionOverwrite.DenyEveryone(guildId),
        PermissionOverwrite.AllowMember(serverBotUserId, DiscordPermissions.RelayBot | DiscordPermissions.ManageChannels),
    ];

    /// <summary>
    /// The bot's permissions in the guild, as Discord computes them: the owner has all; otherwise @everyone's (the role
    /// whose id is the guild's) and those of each of its roles, combined; ADMINISTRATOR means all.
    /// </summary>
    public static ulong GuildPermissions(DiscordGuild guild, string userId, DiscordGuildMember member, IReadOnlyList<DiscordRole> roles)
    {
        ArgumentNullException.ThrowIfNull(guild);
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(roles);
        if (guild.OwnerId == userId)
        {
            return ulong.MaxValue;
        }

        var bits = roles.Where(r => r.Id == guild.Id || member.Roles.Contains(r.Id))
            .Aggregate(0UL, (all, role) => all | Bits(role.Permissions));
        return (bits & DiscordPermissions.Administrator) != 0 ? ulong.MaxValue : bits;
    }

    private async Task<string> ControlChannelAsync(string category, Found found, TextWriter output, CancellationToken cancellationToken)
    {
        var existing = found.Channels.FirstOrDefault(c => c.ParentId == category && c.Type == DiscordChannelTypes.GuildText
                                                                                 && c.Name == options.ControlChannelName);
        if (existing is not null)
        {
            await output.WriteLineAsync(DoctorResult.Pass("discord control channel", $"found {existing.Name} ({existing.Id})").ToString());
            return existing.Id;
        }

        // Made exactly as the running server bot would make it (name, topic, overwrites for both bots).
        var relayChannels = new DiscordRelayChannels(rest, options.WithCategory(category));
        var id = await relayChannels.ControlChannelAsync(found.Self.Id, cancellationToken)
                 ?? throw new InvalidOperationException("The control channel was neither found nor made.");
        await output.WriteLineAsync(DoctorResult.Pass("discord control channel", $"created {options.ControlChannelName} ({id}), private to the bots").ToString());
        return id;
    }

    /// <summary>Every check, in order; stops at the first one the next cannot do without.</summary>
    private async Task<(IReadOnlyList<DoctorResult> Lines, Found? Found)> CheckAsync(CancellationToken cancellationToken)
    {
        var lines = new List<DoctorResult>();
        DiscordUser self;
        DiscordApplication application;
        try
        {
            self = await rest.GetCurrentUserAsync(cancellationToken);
            application = await rest.GetCurrentApplicationAsync(cancellationToken);
        }
        catch (DiscordUnauthorizedException)
        {
            lines.Add(DoctorResult.Fail("discord", "Discord refused Discord:BotToken (401)",
                "copy the server bot's token again from the Developer Portal (Bot → Reset Token)"));
            return (lines, null);
        }
        catch (Exception ex) when (DiscordDoctorCheck.Describe(ex) is { } problem)
        {
            lines.Add(DoctorResult.Fail("discord", $"{problem} at {options.ApiBaseUrl}", "check the network, or Discord:ApiBaseUrl"));
            return (lines, null);
        }

        lines.Add(DoctorResult.Pass("discord", $"token valid for {self.Username} (user id {self.Id})"));
        var failed = false;
        if (!string.IsNullOrWhiteSpace(options.ApplicationId) && options.ApplicationId != application.Id)
        {
            failed = true;
            lines.Add(DoctorResult.Fail("discord application", $"Discord:ApplicationId is {options.ApplicationId} but the token is application {application.Id}'s",
                $"set Discord:ApplicationId to {application.Id} (or leave it out: setup writes it), or use that application's token"));
        }

        // The bots identify with GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT (DiscordRegistration.BotIntents); only the last
        // is privileged. GUILD_MEMBERS is not asked for: nothing reads the member list.
        if ((application.Flags & (DiscordApplicationFlags.GatewayMessageContent | DiscordApplicationFlags.GatewayMessageContentLimited)) == 0)
        {
            failed = true;
            lines.Add(DoctorResult.Fail("discord intents", $"the Message Content intent is off for application {application.Id}",
                "Developer Portal → the application → Bot → Privileged Gateway Intents → turn on Message Content Intent (each client bot's too)"));
        }
        else
        {
            lines.Add(DoctorResult.Pass("discord intents",
                $"Message Content enabled for application {application.Id} (Server Members and Presence are not needed)"));
        }

        var invite = DiscordInvites.ServerBotUrl(application.Id);
        DiscordGuild guild;
        ulong permissions;
        IReadOnlyList<DiscordChannel> channels;
        try
        {
            guild = await rest.GetGuildAsync(options.GuildId!, cancellationToken);
            var member = await rest.GetGuildMemberAsync(guild.Id, self.Id, cancellationToken);
            permissions = GuildPermissions(guild, self.Id, member, await rest.ListGuildRolesAsync(guild.Id, cancellationToken));
            channels = await rest.ListGuildChannelsAsync(guild.Id, cancellationToken);
        }
        catch (Exception ex) when (ex is DiscordNotFoundException or DiscordForbiddenException
                                   || ex is DiscordApiException { Status: System.Net.HttpStatusCode.NotFound })
        {
            lines.Add(DoctorResult.Fail("discord guild", $"{options.GuildId} is not a guild this bot is in",
                $"invite it with {invite} (or fix Discord:GuildId)"));
            return (lines, null);
        }
        catch (Exception ex) when (DiscordDoctorCheck.Describe(ex) is { } problem)
        {
            lines.Add(DoctorResult.Fail("discord guild", problem, "check the network, or Discord:ApiBaseUrl"));
            return (lines, null);
        }

        lines.Add(DoctorResult.Pass("discord guild", $"{guild.Name} ({guild.Id})"));
        var missing = DiscordInvites.ServerBot & ~permissions;
        if (missing != 0)
        {
            lines.Add(DoctorResult.Fail("discord permissions", $"the server bot lacks {DiscordInvites.Names(missing)} in {guild.Name}",
                $"give its role those permissions (Server Settings → Roles) or invite it again with {invite}"));
            return (lines, null);
        }

        lines.Add(DoctorResult.Pass("discord permissions", permissions == ulong.MaxValue
            ? "Administrator (covers all it needs)"
            : DiscordInvites.Names(DiscordInvites.ServerBot)));
        var category = Configured("discord category", options.CategoryId, "Discord:CategoryId", options.CategoryName, channels, guild, lines);
        var archive = Configured("discord archive category", options.ArchiveCategoryId, "Discord:ArchiveCategoryId", options.ArchiveCategoryName,
            channels, guild, lines);
        if (category is { Failed: true } || archive is { Failed: true } || failed)
        {
            return (lines, null);
        }

        return (lines, new Found(self, application, guild, channels, category?.Channel, archive?.Channel));
    }

    /// <summary>
    /// The category a setting names (it must be a category of this guild), else the one with the name; null when neither
    /// exists (setup makes it).
    /// </summary>
    private static (DiscordChannel? Channel, bool Failed)? Configured(string check,
        string? id, string setting, string name, IReadOnlyList<DiscordChannel> channels, DiscordGuild guild, List<DoctorResult> lines)
    {
        if (!string.IsNullOrWhiteSpace(id))
        {
            var named = channels.FirstOrDefault(c => c.Id == id);
            if (named is { Type: DiscordChannelTypes.GuildCategory })
            {
                return (named, false);
            }

            lines.Add(DoctorResult.Fail(check, named is null
                    ? $"{setting} {id} is not a channel of {guild.Name}"
                    : $"{setting} {id} ({named.Name}) is not a category",
                $"fix {setting}, or remove it and setup finds or makes the category '{name}'"));
            return (null, true);
        }

        var byName = channels.FirstOrDefault(c => c.Type == DiscordChannelTypes.GuildCategory && c.Name == name);
        return byName is null ? null : (byName, false);
    }

    private static ulong Bits(string? permissions) =>
        BigInteger.TryParse(permissions, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? (ulong)(value & s_sixtyFourBits) : 0;

    /// <summary>What the checks found: who the bot is, its application, the guild and its channels.</summary>
    private sealed record Found(
        DiscordUser Self, DiscordApplication Application, DiscordGuild Guild, IReadOnlyList<DiscordChannel> Channels,
        DiscordChannel? Category, DiscordChannel? Archive);
}

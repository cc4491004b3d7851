using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Rest;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>
/// The bot's Discord settings against Discord: the token (<c>GET /users/@me</c>), the guild, and — for the server
/// bot, which creates channels there — the relay category, the archive category, the control channel (as <c>setup</c>
/// wrote its id) and the metrics channel it is configured with.
/// </summary>
public sealed class DiscordDoctorCheck(DiscordRestClient rest, DiscordOptions options, bool serverBot) : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var results = new List<DoctorResult>();
        DiscordUser self;
        try
        {
            self = await rest.GetCurrentUserAsync(cancellationToken);
        }
        catch (Exception ex) when (Describe(ex) is { } problem)
        {
            return [DoctorResult.Fail("discord", $"{problem} at {options.ApiBaseUrl}", ex is DiscordUnauthorizedException
                ? "Discord refused Discord:BotToken (401): copy the bot's token again from the Developer Portal (Bot → Reset Token)"
                : "check the network, or Discord:ApiBaseUrl")];
        }

        results.Add(DoctorResult.Pass("discord", $"token valid for {self.Username} (user id {self.Id})"));
        var other = serverBot ? (options.ClientBotUserId, "Discord:ClientBotUserId") : (options.ServerBotUserId, "Discord:ServerBotUserId");
        if (other.Item1 == self.Id)
        {
            results.Add(DoctorResult.Fail("discord", $"{other.Item2} is this bot's own id {self.Id}",
                $"set {other.Item2} to the other bot's user id"));
        }

        results.Add(await GuildAsync(cancellationToken));
        if (serverBot)
        {
            results.Add(await ChannelAsync("discord category", options.CategoryId!, "Discord:CategoryId", category: true, cancellationToken));
            if (options.ArchiveCategoryId is { } archive)
            {
                results.Add(await ChannelAsync("discord archive category", archive, "Discord:ArchiveCategoryId", category: true, cancellationToken));
            }

            if (!string.IsNullOrWhiteSpace(options.ControlChannelId))
            {
                results.Add(await ChannelAsync("discord control channel", options.ControlChannelId, "Discord:ControlChannelId", category: false, cancellationToken));
            }

            if (!string.IsNullOrWhiteSpace(options.MetricsChannelId))
            {
                results.Add(await ChannelAsync("discord metrics channel", options.MetricsChannelId, "Discord:MetricsChannelId", category: false, cancellationToken));
            }
        }

        return results;
    }

    private async Task<DoctorResult> GuildAsync(CancellationToken cancellationToken)
    {
        try
        {
            var guild = await rest.GetGuildAsync(options.GuildId!, cancellationToken);
            return DoctorResult.Pass("discord guild", $"{guild.Name} ({guild.Id})");
        }
        catch (Exception ex) when (ex is DiscordNotFoundException or DiscordForbiddenException)
        {
            return DoctorResult.Fail("discord guild", $"{options.GuildId} is not a guild this bot is in",
                "invite the bot (the invite URL printed by the server bot's setup verb) or fix Discord:GuildId");
        }
        catch (Exception ex) when (Describe(ex) is { } problem)
        {
            return DoctorResult.Fail("discord guild", problem, "check the network, or Discord:ApiBaseUrl");
        }
    }

    private async Task<DoctorResult> ChannelAsync(string check, string id, string setting, bool category, CancellationToken cancellationToken)
    {
        try
        {
            var channel = await rest.GetChannelAsync(id, cancellationToken);
            if (channel.GuildId is { } guild && guild != options.GuildId)
            {
                return DoctorResult.Fail(check, $"{channel.Name} ({id}) is in another guild ({guild})", $"fix {setting} or Discord:GuildId");
            }

            return category && channel.Type != 4
                ? DoctorResult.Fail(check, $"{channel.Name} ({id}) is not a category (type {channel.Type})", $"set {setting} to a category's id")
                : DoctorResult.Pass(check, $"{channel.Name} ({id})");
        }
        catch (DiscordNotFoundException)
        {
            return DoctorResult.Fail(check, $"no channel {id}", $"fix {setting} (Developer Mode → Copy Channel ID)");
        }
        catch (DiscordForbiddenException)
        {
            return DoctorResult.Fail(check, $"{id} is not visible to this bot", $"give the bot View Channel and Manage Channels on it, or fix {setting}");
        }
        catch (Exception ex) when (Describe(ex) is { } problem)
        {
            return DoctorResult.Fail(check, problem, "check the network, or Discord:ApiBaseUrl");
        }
    }

    /// <summary>A one-line account of a failed call, never holding the token; null when the exception is not one.</summary>
    internal static string? Describe(Exception ex) => ex switch
    {
        DiscordApiException api => $"{(int)api.Status} {api.DiscordMessage}",
        HttpRequestException http => $"cannot connect ({http.HttpRequestError}: {http.Message})",
        TaskCanceledException or TimeoutException => "no answer",
        _ => null,
    };
}

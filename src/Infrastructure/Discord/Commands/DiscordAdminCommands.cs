using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MediatR;
using MeatLizard.Application.Status.Queries;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Commands;

/// <summary>
/// The server bot's slash commands. They are registered as guild commands for admins only
/// (<c>default_member_permissions</c> "0": Discord shows them to administrators unless a server overrides it), and
/// every invocation is checked again here: a member needs ADMINISTRATOR or the configured <c>Discord:AdminRoleId</c>.
/// Answers are ephemeral; a command that may take a while is deferred and its answer edited into <c>@original</c>.
/// Interactions are queued by the gateway handler and answered off the gateway loop.
/// </summary>
public sealed partial class DiscordAdminCommands(
    DiscordRestClient rest,
    DiscordOptions options,
    DiscordSelf self,
    IServiceScopeFactory scopes,
    ILogger<DiscordAdminCommands> logger) : BackgroundService, IDiscordEventHandler
{
    public const string NotAdmin = "This command is for MeatLizard admins.";

    private static readonly BigInteger s_administrator = 8;

    private readonly Channel<JsonElement> _interactions = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>What is registered with Discord (only commands that do something real).</summary>
    public static IReadOnlyList<ApplicationCommand> Definitions { get; } =
    [
        new("status", "Workers, queue depth and fallback mode"),
    ];

    public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken) =>
        dispatch.Type == "INTERACTION_CREATE" ? _interactions.Writer.WriteAsync(dispatch.Data, cancellationToken) : ValueTask.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var ready = await self.WhenReadyAsync(stoppingToken);
            await rest.BulkOverwriteGuildCommandsAsync(ready.ApplicationId ?? options.ApplicationId!, options.GuildId!, Definitions, stoppingToken);
            await foreach (var interaction in _interactions.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await AnswerAsync(interaction, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is DiscordGatewayFatalException or DiscordApiException)
        {
            LogUnavailable(logger, ex.Message);
        }
    }

    private async Task AnswerAsync(JsonElement interaction, CancellationToken cancellationToken)
    {
        var id = interaction.GetProperty("id").GetString()!;
        var token = interaction.GetProperty("token").GetString()!;
        if (interaction.GetProperty("type").GetInt32() != 2)
        {
            return;
        }

        var name = interaction.GetProperty("data").GetProperty("name").GetString();
        if (!IsAdmin(interaction))
        {
            LogRefused(logger, name ?? "?", MemberId(interaction));
            await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply(NotAdmin), cancellationToken);
            return;
        }

        switch (name)
        {
            case "status":
                // Reading the queue and workers may take longer than Discord's 3 s: defer, then edit @original.
                await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Defer(), cancellationToken);
                await using (var scope = scopes.CreateAsyncScope())
                {
                    var status = await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new GetPlatformStatus(), cancellationToken);
                    await rest.EditOriginalInteractionResponseAsync(
                        interaction.GetProperty("application_id").GetString()!, token, Describe(status), cancellationToken);
                }

                break;
            default:
                await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply($"Unknown command /{name}."), cancellationToken);
                break;
        }
    }

    private bool IsAdmin(JsonElement interaction)
    {
        if (!interaction.TryGetProperty("member", out var member) || member.ValueKind != JsonValueKind.Object)
        {
            return false; // Not in a guild (a DM): never an admin.
        }

        if (member.TryGetProperty("permissions", out var permissions)
            && BigInteger.TryParse(permissions.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var bits)
            && (bits & s_administrator) != 0)
        {
            return true;
        }

        return options.AdminRoleId is { } role && member.TryGetProperty("roles", out var roles)
                                               && roles.EnumerateArray().Any(r => r.GetString() == role);
    }

    private static string MemberId(JsonElement interaction) =>
        interaction.TryGetProperty("member", out var m) && m.TryGetProperty("user", out var u) ? u.GetProperty("id").GetString() ?? "?" : "?";

    internal static string Describe(PlatformStatusDto status)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{status.Summary}**");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Queue: {status.QueueDepth} waiting · fallback: {status.FallbackMode} · engine: {status.Engine} · transport: {status.Transport}");
        foreach (var worker in status.Workers.Take(10))
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"• worker {worker.Id.ToString()[..8]}: {worker.Engine}, {(worker.Ready ? "ready" : "not ready")}, {worker.JobsRunning} running{(worker.Draining ? ", draining" : "")}");
        }

        var result = text.ToString();
        return result.Length <= DiscordRestClient.MaxContentLength ? result : result[..(DiscordRestClient.MaxContentLength - 1)] + "…";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused /{Command} from non-admin member {MemberId}")]
    private static partial void LogRefused(ILogger logger, string command, string memberId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Answering a slash command failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Slash commands are unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}

using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Threading.Channels;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Channels;
using MeatLizard.Infrastructure.Discord.Chat;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Application.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Presentation.DiscordServer.Commands;

/// <summary>
/// The server bot's slash commands. They are registered as guild commands for admins only
/// (<c>default_member_permissions</c> "0": Discord shows them to administrators unless a server overrides it), and
/// every invocation is checked again here: a member needs ADMINISTRATOR or the configured <c>Discord:AdminRoleId</c>.
/// Answers are ephemeral; a command that may take a while is deferred and its answer edited into <c>@original</c>.
/// Each invocation becomes a MediatR admin command (<see cref="AdminSlashCommands"/>): the Application refuses
/// non-admins too and writes one audit row per invocation.
/// Interactions are queued by the gateway handler and answered off the gateway loop; with two server bots, each is
/// answered by the one that claims it first.
/// </summary>
public sealed partial class DiscordAdminCommands(
    DiscordRestClient rest,
    DiscordOptions options,
    DiscordSelf self,
    IServiceScopeFactory scopes,
    DiscordChatAdapter chat,
    DiscordChatListener chatPlaces,
    IChannelConversations conversations,
    DutyRunner duties,
    ILogger<DiscordAdminCommands> logger) : BackgroundService, IDiscordEventHandler
{
    /// <summary>How long Discord keeps an interaction's token: no server bot answers it after that.</summary>
    private static readonly TimeSpan InteractionLifetime = TimeSpan.FromMinutes(15);

    public const string NotAdmin = AdminOnlyException.Message;

    private const int MaxConcurrentAnswers = 4;

    private static readonly BigInteger s_administrator = 8;

    private readonly Channel<JsonElement> _interactions = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>What is registered with Discord: the admins' commands and the members'.</summary>
    public static IReadOnlyList<ApplicationCommand> Definitions { get; } =
        [.. AdminSlashCommands.Definitions, .. MemberSlashCommands.Definitions];

    public const string NotAChatChannel = "I only chat in the channels the admins chose; ask there.";

    public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken) =>
        dispatch.Type == "INTERACTION_CREATE" ? _interactions.Writer.WriteAsync(dispatch.Data, cancellationToken) : ValueTask.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A few interactions are answered side by side, so a slow /backup does not hold a quick /ban past Discord's 3 s.
        var running = new List<Task>();
        try
        {
            var ready = await self.WhenReadyAsync(stoppingToken);
            await rest.BulkOverwriteGuildCommandsAsync(ready.ApplicationId ?? options.ApplicationId!, options.GuildId!, Definitions, stoppingToken);
            await foreach (var interaction in _interactions.Reader.ReadAllAsync(stoppingToken))
            {
                running.RemoveAll(t => t.IsCompleted);
                if (running.Count >= MaxConcurrentAnswers)
                {
                    await Task.WhenAny(running);
                    running.RemoveAll(t => t.IsCompleted);
                }

                running.Add(Task.Run(() => AnswerSafelyAsync(interaction, stoppingToken), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is DiscordGatewayFatalException or DiscordApiException)
        {
            LogUnavailable(logger, ex.Message);
        }
        finally
        {
            await Task.WhenAll(running);
        }
    }

    private async Task AnswerSafelyAsync(JsonElement interaction, CancellationToken cancellationToken)
    {
        try
        {
            await AnswerAsync(interaction, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex);
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

        // Every server bot's gateway session receives the command: the first to claim it answers, the others leave it.
        if (!await duties.TryClaimOnceAsync($"discord-interaction:{id}", InteractionLifetime, cancellationToken))
        {
            return;
        }

        var invocation = SlashInvocation.Parse(interaction.GetProperty("data"));
        if (MemberSlashCommands.IsKnown(invocation, IsAdmin(interaction)))
        {
            await AnswerMemberAsync(interaction, id, token, invocation, cancellationToken);
            return;
        }

        if (!AdminSlashCommands.IsKnown(invocation))
        {
            await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply($"Unknown command {invocation.Display}."), cancellationToken);
            return;
        }

        var actor = Actor(interaction);
        if (!actor.IsAdmin)
        {
            // Sent all the same, so the Application refuses it and audits the refusal.
            LogRefused(logger, invocation.Display, actor.Id);
            await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply(await RunAsync(invocation, actor, cancellationToken)),
                cancellationToken);
            return;
        }

        if (!AdminSlashCommands.IsSlow(invocation))
        {
            await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply(await RunAsync(invocation, actor, cancellationToken,
                Text(interaction, "channel_id"))), cancellationToken);
            return;
        }

        // It may take longer than Discord's 3 s: defer, then edit @original.
        await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Defer(), cancellationToken);
        var answer = await RunAsync(invocation, actor, cancellationToken);
        await rest.EditOriginalInteractionResponseAsync(
            interaction.GetProperty("application_id").GetString()!, token, answer, cancellationToken);
    }

    /// <summary>Runs the command; an expected refusal or a failure becomes a clear answer instead of an exception.</summary>
    private async Task<string> RunAsync(SlashInvocation invocation, AdminActor actor, CancellationToken cancellationToken,
        string? channelId = null)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
            return await AdminSlashCommands.RunAsync(mediator, invocation, actor, options.PublicBaseUrl, cancellationToken,
                channelId);
        }
        catch (AdminOnlyException)
        {
            return NotAdmin;
        }
        catch (ValidationException ex)
        {
            return AdminSlashCommands.Fit($"{invocation.Display}: " + string.Join(" ", ex.Errors.Select(e => e.ErrorMessage).Distinct()));
        }
        catch (Exception ex) when (ex is DomainException or NotFoundException or ConflictException)
        {
            return AdminSlashCommands.Fit($"{invocation.Display}: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogCommandFailed(logger, invocation.Display, ex);
            return $"{invocation.Display} failed ({ex.GetType().Name}); the server bot's log has the details.";
        }
    }

    /// <summary>
    /// A member's command. <c>/ask</c> in a chat channel is answered in public: the question is shown as the deferred
    /// response, and the model's answer is posted as a reply to it, like a mention's. The others answer only the member.
    /// </summary>
    private async Task AnswerMemberAsync(
        JsonElement interaction, string id, string token, SlashInvocation invocation, CancellationToken cancellationToken)
    {
        var user = interaction.TryGetProperty("member", out var member) && member.ValueKind == JsonValueKind.Object
            ? member.GetProperty("user")
            : interaction.GetProperty("user");
        var author = new ChannelMember(chat.Network, Text(user, "id") ?? "?",
            Text(member, "nick") ?? Text(user, "global_name") ?? Text(user, "username") ?? "?");
        var channelId = Text(interaction, "channel_id") ?? "";
        var place = new ChannelPlace(channelId, Text(interaction, "guild_id"));
        if (invocation.Name == "ask")
        {
            if (Text(interaction, "guild_id") is null || !await chatPlaces.IsAllowedAsync(channelId, cancellationToken))
            {
                await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply(NotAChatChannel), cancellationToken);
                return;
            }

            var prompt = invocation.Text("prompt") ?? "";
            await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Defer(ephemeral: false), cancellationToken);
            var shown = await rest.EditOriginalInteractionResponseAsync(interaction.GetProperty("application_id").GetString()!, token,
                AdminSlashCommands.Fit($"**{AdminSlashCommands.Safe(author.DisplayName)} asked:** {AdminSlashCommands.Safe(prompt)}"),
                cancellationToken);
            await conversations.HandleAsync(chat, new IncomingChannelMessage(author, place, shown.Id, null, prompt, true),
                cancellationToken);
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var commands = scope.ServiceProvider.GetRequiredService<IChannelCommands>();
        var answer = invocation.Name switch
        {
            "reset" => await commands.ResetAsync(author, place, cancellationToken),
            "model" => await commands.SetPreferredModelAsync(author, invocation.Text("name"), cancellationToken),
            "persona" => await scope.ServiceProvider.GetRequiredService<IChannelPersonas>()
                .ChooseAsync(author, place, invocation.Text("name"), cancellationToken),
            "status" => await commands.StatusAsync(cancellationToken),
            // Ephemeral, like every member's answer here: only the member sees their chats and links.
            "search" => await scope.ServiceProvider.GetRequiredService<IChannelSearch>()
                .SearchAsync(author, place, invocation.Text("words"), privately: true, options.PublicBaseUrl,
                    AdminSlashCommands.Safe, cancellationToken),
            "share" => await scope.ServiceProvider.GetRequiredService<IChannelShares>()
                .ShareAsync(author, place, revoke: invocation.Text("revoke") == "true", privately: true, options.PublicBaseUrl,
                    cancellationToken),
            // The reply is ephemeral: only the member sees the account it names.
            "link" => await commands.LinkAsync(author,
                invocation.Text("code") + (invocation.Text("confirm") == "true" ? " confirm" : ""), privately: true,
                cancellationToken),
            _ => commands.Help(chat.Network),
        };
        await rest.CreateInteractionResponseAsync(id, token, InteractionResponse.Reply(AdminSlashCommands.Fit(answer)), cancellationToken);
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value)
                                                  && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private AdminActor Actor(JsonElement interaction)
    {
        var user = interaction.TryGetProperty("member", out var member) && member.ValueKind == JsonValueKind.Object
                                                                       && member.TryGetProperty("user", out var u)
            ? u
            : interaction.TryGetProperty("user", out var direct) ? direct : default;
        var userId = user.ValueKind == JsonValueKind.Object && user.TryGetProperty("id", out var idProperty) ? idProperty.GetString() ?? "?" : "?";
        var name = user.ValueKind == JsonValueKind.Object && user.TryGetProperty("username", out var nameProperty) ? nameProperty.GetString() ?? "?" : "?";
        return new AdminActor($"discord:{userId}", name, IsAdmin(interaction));
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused /{Command} from non-admin member {MemberId}")]
    private static partial void LogRefused(ILogger logger, string command, string memberId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Slash command {Command} failed")]
    private static partial void LogCommandFailed(ILogger logger, string command, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Answering a slash command failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Slash commands are unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}

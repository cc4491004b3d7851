using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Discord.Gateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Chat;

/// <summary>
/// The server bot's chat with members: MESSAGE_CREATE events that address the bot are queued off the gateway loop and,
/// in an allowed channel (<see cref="DiscordOptions.ChatChannelIds"/> and those admins added), handed to the channel
/// handler, a few side by side; everything else is ignored without a word.
/// </summary>
public sealed partial class DiscordChatListener(
    DiscordChatAdapter adapter,
    DiscordOptions options,
    DiscordSelf self,
    IChannelConversations conversations,
    IServiceScopeFactory scopes,
    ILogger<DiscordChatListener> logger) : BackgroundService, IDiscordEventHandler
{
    private const int MaxConcurrentAnswers = 8;

    private readonly Channel<IncomingChannelMessage> _questions =
        Channel.CreateUnbounded<IncomingChannelMessage>(new UnboundedChannelOptions { SingleReader = true });

    public async ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dispatch);
        if (dispatch.Type != "MESSAGE_CREATE" || self.UserId is not { } bot
            || DiscordChatMessages.Read(dispatch.Data, bot) is not { } question)
        {
            return;
        }

        // Whether the channel is allowed is asked off the gateway loop: the answer may need the database (a channel an
        // admin added), which may be away for a moment — and Discord never delivers the message again.
        await _questions.Writer.WriteAsync(question, cancellationToken);
    }

    /// <summary>A configured channel, or one an admin added (setting <see cref="ChannelSettingKeys.AllowedChats"/>).</summary>
    public async Task<bool> IsAllowedAsync(string channelId, CancellationToken cancellationToken)
    {
        if (options.ChatChannelIds.Contains(channelId, StringComparer.Ordinal))
        {
            return true;
        }

        await using var scope = scopes.CreateAsyncScope();
        var added = await scope.ServiceProvider.GetRequiredService<IRuntimeSettings>()
            .GetAsync(ChannelSettingKeys.AllowedChats(adapter.Network), cancellationToken);
        return added is not null && added.Split(',', StringSplitOptions.TrimEntries).Contains(channelId, StringComparer.Ordinal);
    }

    /// <summary>
    /// <see cref="IsAllowedAsync"/>, asked again with growing pauses while the database is away, for as long as the
    /// question itself would be (<see cref="ChannelConversations.OutageRetryLimit"/>).
    /// </summary>
    private async Task<bool> IsAllowedThroughOutagesAsync(string channelId, CancellationToken cancellationToken)
    {
        var allowed = false;
        await DatabaseFailures.ThroughOutagesAsync(
            async () => allowed = await IsAllowedAsync(channelId, cancellationToken), ChannelConversations.OutageRetryLimit,
            cancellationToken, (failure, pause) => LogAskedAgain(logger, channelId, (int)pause.TotalMilliseconds, failure.GetType().Name));
        return allowed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Discord does not deliver a message again after a restart: what a stop left unanswered is finished now.
        var running = new List<Task> { ResumeSafelyAsync(stoppingToken) };
        try
        {
            await foreach (var question in _questions.Reader.ReadAllAsync(stoppingToken))
            {
                running.RemoveAll(t => t.IsCompleted);
                if (running.Count >= MaxConcurrentAnswers)
                {
                    await Task.WhenAny(running);
                    running.RemoveAll(t => t.IsCompleted);
                }

                running.Add(Task.Run(() => AnswerSafelyAsync(question, stoppingToken), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await Task.WhenAll(running);
        }
    }

    private async Task ResumeSafelyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Yield();
            await conversations.ResumeAsync(adapter, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogResumeFailed(logger, ex);
        }
    }

    private async Task AnswerSafelyAsync(IncomingChannelMessage question, CancellationToken cancellationToken)
    {
        try
        {
            if (await IsAllowedThroughOutagesAsync(question.Place.ChatId, cancellationToken))
            {
                await conversations.HandleAsync(adapter, question, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogFailed(logger, question.Place.ChatId, question.Author.Id, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Whether channel {ChannelId} is a chat channel could not be read ({Failure}); asked again in {PauseMs} ms")]
    private static partial void LogAskedAgain(ILogger logger, string channelId, int pauseMs, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "Finishing the questions a stop left unanswered failed")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Answering a question in channel {ChannelId} from member {MemberId} failed")]
    private static partial void LogFailed(ILogger logger, string channelId, string memberId, Exception exception);
}

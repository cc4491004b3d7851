using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Sessions.Commands;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The one handler behind every chat network. Each question runs in a scope of its own whose caller is the member's
/// user (<see cref="ChannelCaller"/>), and is sent with the web app's commands (<see cref="CreateSession"/>,
/// <see cref="SendMessage"/>, <see cref="WaitForAnswer"/>): bans, the per-user and per-guild limits, history, the
/// relay, metrics and the fallback apply exactly as for a web chat. While the answer streams, the posted reply is
/// edited at most every <see cref="IChannelAdapter.MinEditInterval"/>; "typing" shows until the first words arrive.
/// </summary>
public sealed partial class ChannelConversations(
    IServiceScopeFactory scopes, IClock clock, ILogger<ChannelConversations> logger) : IChannelConversations
{
    public async Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(message);
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var refusal = await TryAnswerAsync(services, adapter, message, cancellationToken);
        if (refusal is not null)
        {
            await adapter.PostAsync(message.Place.ChatId, message.MessageId, refusal, cancellationToken);
        }
    }

    /// <summary>Answers the question; returns what to tell the member instead when it is refused.</summary>
    private async Task<string?> TryAnswerAsync(
        IServiceProvider services, IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(message.Text))
        {
            return ChannelTexts.EmptyQuestion;
        }

        var (user, identity) = await services.GetRequiredService<ChannelMembers>().ResolveAsync(message.Author, cancellationToken);
        if (user.IsBanned)
        {
            LogRefusedBanned(logger, adapter.Network, message.Author.Id);
            return ChannelTexts.Banned;
        }

        services.GetRequiredService<ChannelCaller>().Become(user.Id, message.Author, message.Place);
        var conversations = services.GetRequiredService<IChannelConversationStore>();
        try
        {
            var found = await FindChatAsync(services, adapter.Network, user, message, cancellationToken);
            var sessionId = found ?? await StartChatAsync(services, adapter.Network, identity, message, cancellationToken);
            await conversations.SetCurrentAsync(adapter.Network, message.Place.ChatId, message.Author.Id, sessionId,
                cancellationToken);
            await AnswerAsync(services, adapter, message, sessionId, startedHere: found is null, cancellationToken);
            return null;
        }
        catch (RateLimitedException ex)
        {
            return ChannelTexts.RateLimited(ex.Scope, ex.RetryAfter);
        }
        catch (DomainException ex) when (ex.Kind == DomainErrorKind.Forbidden)
        {
            return ChannelTexts.Banned;
        }
        catch (DomainException ex)
        {
            return ex.Message;
        }
        catch (Exception ex) when (ex is ConflictException or ServiceUnavailableException or NotFoundException)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// The chat this message continues: the one of the bot's answer it replies to, else in a private chat the member's
    /// current one; null when it starts a new chat (a new mention). A chat that is closed, or another member's, is
    /// not continued.
    /// </summary>
    private static async Task<SessionId?> FindChatAsync(IServiceProvider services, string network, User user,
        IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        var conversations = services.GetRequiredService<IChannelConversationStore>();
        var found = message.ReplyToMessageId is { } replyTo
            ? await conversations.FindByPostedMessageAsync(network, message.Place.ChatId, replyTo, cancellationToken)
            : message.Place.IsPrivate
                ? await conversations.FindCurrentAsync(network, message.Place.ChatId, message.Author.Id, cancellationToken)
                : null;
        if (found is not { } id)
        {
            return null;
        }

        var chat = await services.GetRequiredService<IChatSessionRepository>().GetAsync(id, cancellationToken);
        return chat is not null && chat.IsVisibleTo(user) && !chat.IsClosed ? id : null;
    }

    private static async Task<SessionId> StartChatAsync(IServiceProvider services, string network,
        ChannelIdentity identity, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        var channelModel = await services.GetRequiredService<IRuntimeSettings>()
            .GetAsync(ChannelSettingKeys.ChannelModel(network, message.Place.ChatId), cancellationToken);
        var model = ChannelModelChoice.Pick(null, identity.PreferredModel, channelModel);
        var created = await services.GetRequiredService<IMediator>()
            .Send(new CreateSession(SessionTitle.FromQuestion(message.Text).Value, model), cancellationToken);
        return new SessionId(created.Id);
    }

    private async Task AnswerAsync(IServiceProvider services, IChannelAdapter adapter, IncomingChannelMessage message,
        SessionId sessionId, bool startedHere, CancellationToken cancellationToken)
    {
        var events = services.GetRequiredService<IChatEvents>();
        var mediator = services.GetRequiredService<IMediator>();
        var writer = new ChannelAnswerWriter(adapter, services.GetRequiredService<IChannelConversationStore>(),
            message.Place.ChatId, message.MessageId, sessionId);

        // Two subscriptions, both open before the send: one streams the words, the other waits for the answer.
        await using var deltas = await events.SubscribeAsync(sessionId.Value, cancellationToken);
        await using var answers = await events.SubscribeAsync(sessionId.Value, cancellationToken);
        SendMessageResult sent;
        try
        {
            sent = await mediator.Send(new SendMessage(sessionId.Value, message.Text), cancellationToken);
        }
        catch when (startedHere)
        {
            // A refused question (a limit, a full queue) leaves no empty chat behind.
            await services.GetRequiredService<IChatSessionRepository>().DeleteAsync(sessionId, CancellationToken.None);
            throw;
        }

        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stream = StreamAsync(adapter, message.Place.ChatId, writer, deltas, sent.RequestId, streaming.Token);
        string final;
        try
        {
            var answer = await mediator.Send(new WaitForAnswer(sessionId.Value, sent.RequestId)
            {
                FollowedSinceSent = answers,
            }, cancellationToken);
            final = ChannelTexts.Marked(answer.Source, answer.Content);
        }
        catch (ConflictException ex)
        {
            final = ChannelTexts.Failed(ex.Message);
        }
        finally
        {
            await streaming.CancelAsync();
            await stream;
        }

        await writer.ShowAsync(final, cancellationToken);
    }

    /// <summary>Shows the words as they come, at most every <see cref="IChannelAdapter.MinEditInterval"/>, typing until then.</summary>
    private async Task StreamAsync(IChannelAdapter adapter, string chatId, ChannelAnswerWriter writer,
        IChatEventSubscription deltas, Guid requestId, CancellationToken cancellationToken)
    {
        using var typing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var typingLoop = TypeAsync(adapter, chatId, typing.Token);
        try
        {
            var text = new System.Text.StringBuilder();
            var shownAt = DateTimeOffset.MinValue;
            var shownLength = 0;
            await foreach (var chatEvent in deltas.ReadAllAsync(cancellationToken))
            {
                if (chatEvent.RequestId != requestId || chatEvent.Type != ChatEventTypes.Delta || chatEvent.Text is null)
                {
                    continue;
                }

                text.Append(chatEvent.Text);
                var now = clock.UtcNow;
                if (now - shownAt < adapter.MinEditInterval || text.Length == shownLength)
                {
                    continue;
                }

                await writer.ShowAsync(text + ChannelTexts.Writing, cancellationToken);
                if (writer.HasPosted)
                {
                    await typing.CancelAsync();
                }

                shownAt = now;
                shownLength = text.Length;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A failed edit must not lose the answer: the final text is shown once it is there.
            LogStreamFailed(logger, adapter.Network, ex);
        }
        finally
        {
            await typing.CancelAsync();
            await typingLoop;
        }
    }

    private async Task TypeAsync(IChannelAdapter adapter, string chatId, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await adapter.ShowTypingAsync(chatId, cancellationToken);
                await Task.Delay(adapter.TypingInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTypingFailed(logger, adapter.Network, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused a question from banned {Network} member {MemberId}")]
    private static partial void LogRefusedBanned(ILogger logger, string network, string memberId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Streaming an answer to {Network} failed; the final answer follows")]
    private static partial void LogStreamFailed(ILogger logger, string network, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Showing typing on {Network} failed")]
    private static partial void LogTypingFailed(ILogger logger, string network, Exception exception);
}

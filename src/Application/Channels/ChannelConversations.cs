using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Channels;

/// <summary>
/// The one handler behind every chat network. Each question runs in a scope of its own whose caller is the member's
/// user (<see cref="ChannelCaller"/>), and is sent with the web app's command (<see cref="SendMessage"/>) and followed
/// as every answer is (<see cref="AnswerFollower"/>): bans, the per-user and per-guild limits, history, the
/// relay, metrics and the fallback apply exactly as for a web chat. While the answer streams, the posted reply is
/// edited at most every <see cref="IChannelAdapter.MinEditInterval"/>; "typing" shows until the first words arrive.
/// </summary>
public sealed partial class ChannelConversations(
    IServiceScopeFactory scopes, IClock clock, ILogger<ChannelConversations> logger) : IChannelConversations
{
    // The questions this process is answering now: one delivered again meanwhile is left to the running handling.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string, string), byte> _answering = new();

    public async Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(message);
        var key = (adapter.Network, message.Place.ChatId, message.MessageId);
        if (!_answering.TryAdd(key, 0))
        {
            return;
        }

        try
        {
            await HandleOnceAsync(adapter, message, cancellationToken);
        }
        finally
        {
            _answering.TryRemove(key, out _);
        }
    }

    private async Task HandleOnceAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var refusal = await TryAnswerAsync(services, adapter, message, cancellationToken);
        if (refusal is not null)
        {
            await adapter.PostAsync(message.Place.ChatId, message.MessageId, refusal, cancellationToken);
            await services.GetRequiredService<IChannelConversationStore>().MarkQuestionAnsweredAsync(adapter.Network,
                message.Place.ChatId, message.MessageId, CancellationToken.None);
        }
    }

    /// <summary>
    /// Finishes the questions of <paramref name="adapter"/>'s network that a stop left unanswered (asked within
    /// <see cref="ResumeWindow"/>): each follows the request it became, and its answer is shown as if nothing happened
    /// (the first reply, if one was posted, is edited). For a network that does not deliver a message again after a
    /// restart (Discord's gateway); one that does (Telegram's getUpdates) finds the question again in
    /// <see cref="HandleAsync"/>.
    /// </summary>
    public async Task ResumeAsync(IChannelAdapter adapter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        IReadOnlyList<ChannelQuestion> unanswered;
        await using (var scope = scopes.CreateAsyncScope())
        {
            unanswered = await scope.ServiceProvider.GetRequiredService<IChannelConversationStore>()
                .ListUnansweredQuestionsAsync(adapter.Network, clock.UtcNow - ResumeWindow, MaxResumed, cancellationToken);
        }

        await Task.WhenAll(unanswered.Select(question => ResumeOneAsync(adapter, question, cancellationToken)));
    }

    /// <summary>How far back a stop's unanswered questions are finished at the next start.</summary>
    public static readonly TimeSpan ResumeWindow = TimeSpan.FromHours(1);

    private const int MaxResumed = 100;

    private async Task ResumeOneAsync(IChannelAdapter adapter, ChannelQuestion question, CancellationToken cancellationToken)
    {
        var key = (adapter.Network, question.ChatId, question.MessageId);
        if (!_answering.TryAdd(key, 0))
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var services = scope.ServiceProvider;
            var member = new ChannelMember(question.Network, question.MemberId, question.MemberId);
            var (user, _) = await services.GetRequiredService<ChannelMembers>().ResolveAsync(member, cancellationToken);
            services.GetRequiredService<ChannelCaller>().Become(user.Id, member, new ChannelPlace(question.ChatId, question.GroupId));
            await AnswerAsync(services, adapter, user, question, text: null, started: null, seenBefore: true, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogResumeFailed(logger, adapter.Network, question.ChatId, ex);
        }
        finally
        {
            _answering.TryRemove(key, out _);
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
            // A message seen before (the network delivered it again, as Telegram does after a restart): its answer
            // is shown, or followed, never asked of the model a second time.
            if (await conversations.FindQuestionAsync(adapter.Network, message.Place.ChatId, message.MessageId,
                    cancellationToken) is { } seen)
            {
                if (seen.AnsweredAt is null)
                {
                    await AnswerAsync(services, adapter, user, seen, message.Text, started: null, seenBefore: true,
                        cancellationToken);
                }

                return null;
            }

            // A new chat is stored before the question is recorded (which names it), and taken back when the question
            // is refused (NewChats).
            var found = await FindChatAsync(services, adapter.Network, user, message, cancellationToken);
            var started = found is null ? await StartChatAsync(services, adapter.Network, user, identity, message, cancellationToken) : null;
            var sessionId = found ?? started!.Id;
            await conversations.SetCurrentAsync(adapter.Network, message.Place.ChatId, message.Author.Id, sessionId,
                cancellationToken);
            var question = new ChannelQuestion(adapter.Network, message.Place.ChatId, message.MessageId,
                message.Author.Id, message.Place.GroupId, sessionId, null, null, clock.UtcNow, null);
            if (!await conversations.TryAddQuestionAsync(question, cancellationToken))
            {
                return null; // the same message handled side by side: the other handling answers it
            }

            await AnswerAsync(services, adapter, user, question, message.Text, started, seenBefore: false, cancellationToken);
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

    /// <summary>
    /// A new chat of the member's for this question, with the model of <see cref="ChannelModelChoice"/>, titled after the
    /// question and stored (costing a chat-creation token).
    /// </summary>
    private static async Task<ChatSession> StartChatAsync(IServiceProvider services, string network, User user,
        ChannelIdentity identity, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        var channelModel = await services.GetRequiredService<IRuntimeSettings>()
            .GetAsync(ChannelSettingKeys.ChannelModel(network, message.Place.ChatId), cancellationToken);
        var wanted = new InNewChat(ModelName.FromOptional(ChannelModelChoice.Pick(null, identity.PreferredModel, channelModel)));
        var newChats = services.GetRequiredService<NewChats>();
        var chat = newChats.Prepare(user, wanted, PromptText.From(message.Text));
        await newChats.StoreAsync(user, chat, wanted, cancellationToken);
        return chat;
    }

    /// <summary>
    /// Shows the answer to <paramref name="question"/>: sends <paramref name="text"/> in its chat (unless it was sent
    /// before: then the request it became is followed), streams the words into the reply, shows the final answer and
    /// marks the question answered. <paramref name="text"/> is null when resuming, where nothing can be sent again;
    /// <paramref name="started"/>: the chat started for this question, taken back when it is refused;
    /// <paramref name="seenBefore"/>: the question was recorded by an earlier handling, which may have sent it.
    /// </summary>
    private async Task AnswerAsync(IServiceProvider services, IChannelAdapter adapter, User user, ChannelQuestion question,
        string? text, ChatSession? started, bool seenBefore, CancellationToken cancellationToken)
    {
        var events = services.GetRequiredService<IChatEvents>();
        var conversations = services.GetRequiredService<IChannelConversationStore>();
        var (network, chatId, messageId, sessionId) = (adapter.Network, question.ChatId, question.MessageId, question.SessionId);
        var writer = new ChannelAnswerWriter(adapter, conversations, chatId, messageId, sessionId, question.ReplyMessageId);

        // Open before the send, so none of the answer's events is missed.
        await using var subscription = await events.SubscribeAsync(sessionId.Value, cancellationToken);
        var requestId = question.RequestId;
        if (requestId is null && seenBefore)
        {
            // Recorded but its request not: a stop came between the two. A request of the chat still under way is it.
            requestId = (await services.GetRequiredService<IRelayRequestRepository>()
                .GetUnfinishedForSessionAsync(sessionId, cancellationToken))?.Id.Value;
        }

        // A followed request may have ended before the events were opened: its stored answer is looked at first.
        var followed = requestId is not null;
        if (requestId is null)
        {
            if (text is null)
            {
                return; // resuming a question that was never sent: its text is not kept, so it stays unanswered
            }

            try
            {
                requestId = (await services.GetRequiredService<IMediator>().Send(new SendMessage(sessionId.Value, text),
                    cancellationToken)).RequestId;
            }
            catch when (started is not null)
            {
                await services.GetRequiredService<NewChats>().TakeBackAsync(user, started);
                throw;
            }

            await conversations.SetQuestionRequestAsync(network, chatId, messageId, requestId.Value, CancellationToken.None);
        }

        var updates = services.GetRequiredService<AnswerFollower>()
            .FollowAsync(subscription, requestId.Value, lookFirst: followed, cancellationToken);
        var final = await ShowAnswerAsync(adapter, chatId, writer, updates, cancellationToken,
            id => conversations.SetQuestionReplyAsync(network, chatId, messageId, id, CancellationToken.None));
        await writer.ShowAsync(final, cancellationToken);
        await conversations.MarkQuestionAnsweredAsync(network, chatId, messageId, CancellationToken.None);
    }

    /// <summary>
    /// Shows the words as they come, at most every <see cref="IChannelAdapter.MinEditInterval"/>, typing until then;
    /// returns the final text to show. A failed edit stops only the streaming: the final answer is shown once it is there.
    /// </summary>
    private async Task<string> ShowAnswerAsync(IChannelAdapter adapter, string chatId, ChannelAnswerWriter writer,
        IAsyncEnumerable<AnswerUpdate> updates, CancellationToken cancellationToken, Func<string, Task> firstPosted)
    {
        using var typing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var typingLoop = TypeAsync(adapter, chatId, typing.Token);
        try
        {
            var text = new System.Text.StringBuilder();
            var shownAt = DateTimeOffset.MinValue;
            var shownLength = 0;
            var streaming = true;
            await foreach (var update in updates)
            {
                switch (update)
                {
                    case AnswerStartedOver:
                        text.Clear(); // its host stopped mid-answer and another attempt writes it from the start
                        continue;
                    case AnswerGiven given:
                        return ChannelTexts.Marked(given.Answer.Source, given.Answer.Content);
                    case AnswerWithdrawn:
                        return ChannelTexts.Failed("The generation was cancelled before it produced anything.");
                    case AnswerLate:
                        return ChannelTexts.Failed("The answer did not arrive in time; it will appear in the chat when ready.");
                    case AnswerWords words when streaming:
                        text.Append(words.Text);
                        break;
                    default:
                        continue;
                }

                var now = clock.UtcNow;
                if (now - shownAt < adapter.MinEditInterval || text.Length == shownLength)
                {
                    continue;
                }

                try
                {
                    var hadPosted = writer.HasPosted;
                    await writer.ShowAsync(text + ChannelTexts.Writing, cancellationToken);
                    if (writer.HasPosted)
                    {
                        await typing.CancelAsync();
                        if (!hadPosted)
                        {
                            await firstPosted(writer.PostedIds[0]); // an answer finished after a stop edits this reply
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogStreamFailed(logger, adapter.Network, ex);
                    streaming = false;
                }

                shownAt = now;
                shownLength = text.Length;
            }

            throw new InvalidOperationException("A followed answer ends with how it ended.");
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Finishing an unanswered question in {Network} chat {ChatId} failed")]
    private static partial void LogResumeFailed(ILogger logger, string network, string chatId, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Showing typing on {Network} failed")]
    private static partial void LogTypingFailed(ILogger logger, string network, Exception exception);
}

using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Commands;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Channels;

/// <summary>
/// Asks a recorded chat network question (<see cref="SendMessage"/>, the outside request its pipeline limits and
/// checks) and shows its answer: the words stream into the reply, edited at most every
/// <see cref="IChannelAdapter.MinEditInterval"/>, "typing" until the first words arrive, then the final answer, as
/// every answer is followed (<see cref="AnswerFollower"/>).
/// </summary>
public sealed partial class ChannelAnswering(
    IChannelConversationStore conversations,
    IChatEvents events,
    IRelayRequestRepository requests,
    IMediator mediator,
    AnswerFollower follower,
    IClock clock,
    ILogger<ChannelAnswering> logger)
{
    /// <summary>
    /// Shows the answer to <paramref name="question"/>: sends <paramref name="text"/> in its chat (unless it was sent
    /// before: then the request it became is followed), streams the words into the reply, shows the final answer and
    /// marks the question answered. <paramref name="text"/> is null when resuming, where nothing can be sent again;
    /// <paramref name="seenBefore"/>: the question was recorded by an earlier handling, which may have sent it;
    /// <paramref name="takeBack"/>: what undoes the chat started for it, when the send is refused.
    /// </summary>
    public async Task AnswerAsync(IChannelAdapter adapter, ChannelQuestion question, string? text, bool seenBefore,
        Func<Task>? takeBack, CancellationToken cancellationToken)
    {
        var (network, chatId, messageId, sessionId) = (adapter.Network, question.ChatId, question.MessageId, question.SessionId);
        var writer = new ChannelAnswerWriter(adapter, conversations, chatId, messageId, sessionId, question.ReplyMessageId);

        // Open before the send, so none of the answer's events is missed.
        await using var subscription = await events.SubscribeAsync(sessionId.Value, cancellationToken);
        var requestId = question.RequestId;
        if (requestId is null && seenBefore)
        {
            // Recorded but its request not: a stop came between the two. A request of the chat still under way is it.
            requestId = (await requests.GetUnfinishedForSessionAsync(sessionId, cancellationToken))?.Id.Value;
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
                requestId = (await mediator.Send(new SendMessage(sessionId.Value, text), cancellationToken)).RequestId;
            }
            catch when (takeBack is not null)
            {
                await takeBack();
                throw;
            }

            // Sent: the question must now name its request, through a database outage too — handled again without
            // it, it would be taken for one never sent and asked a second time.
            var sent = requestId.Value;
            await DatabaseFailures.ThroughOutagesAsync(
                () => conversations.SetQuestionRequestAsync(network, chatId, messageId, sent, CancellationToken.None),
                ChannelConversations.OutageRetryLimit, cancellationToken);
        }

        var updates = follower.FollowAsync(subscription, requestId.Value, lookFirst: followed, cancellationToken);
        var final = await ShowAnswerAsync(adapter, chatId, writer, updates, cancellationToken,
            id => conversations.SetQuestionReplyAsync(network, chatId, messageId, id, CancellationToken.None));
        await writer.ShowAsync(final.Text, cancellationToken);
        if (final.AnswerId is { } answer)
        {
            // A reaction on any part of it rates this answer (ChannelFeedback).
            await conversations.SetPostedAnswerAsync(network, chatId, writer.PostedIds, new Domain.Common.MessageId(answer),
                CancellationToken.None);
        }

        await conversations.MarkQuestionAnsweredAsync(network, chatId, messageId, CancellationToken.None);
    }

    /// <summary>
    /// Shows the words as they come, at most every <see cref="IChannelAdapter.MinEditInterval"/>, typing until then;
    /// returns the final text to show, and the answer it is (none when it failed). A failed edit stops only the
    /// streaming: the final answer is shown once it is there.
    /// </summary>
    private async Task<(string Text, Guid? AnswerId)> ShowAnswerAsync(IChannelAdapter adapter, string chatId, ChannelAnswerWriter writer,
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
                        return (ChannelTexts.Marked(given.Answer.Source, given.Answer.Content), given.Answer.Id);
                    case AnswerWithdrawn:
                        return (ChannelTexts.Failed("The generation was cancelled before it produced anything."), null);
                    case AnswerLate:
                        return (ChannelTexts.Failed("The answer did not arrive in time; it will appear in the chat when ready."), null);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Streaming an answer to {Network} failed; the final answer follows")]
    private static partial void LogStreamFailed(ILogger logger, string network, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Showing typing on {Network} failed")]
    private static partial void LogTypingFailed(ILogger logger, string network, Exception exception);
}

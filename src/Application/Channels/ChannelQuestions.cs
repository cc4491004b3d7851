using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Channels;

/// <summary>
/// One question from a chat network, in the scope <see cref="ChannelConversations"/> made for it: who asks (the
/// member's user becomes the scope's caller), which chat it goes on in or starts, and, once recorded, its answer
/// (<see cref="ChannelAnswering"/>). A refusal is told to the member in reply.
/// </summary>
public sealed partial class ChannelQuestions(
    ChannelMembers members,
    ChannelCaller caller,
    IChannelConversationStore conversations,
    ChannelChats chats,
    ChannelAnswering answering,
    IClock clock,
    ILogger<ChannelQuestions> logger)
{
    /// <summary>Answers the question, or tells the member why it is not answered.</summary>
    public async Task HandleAsync(IChannelAdapter adapter, IncomingChannelMessage message, CancellationToken cancellationToken)
    {
        // A member cannot correct what their network let through as an API client corrects a 400: a control character
        // (pasted from a terminal, say) is taken out and the rest answered, as an answer's text is cleaned.
        message = message with { Text = StorableText.Clean(message.Text) };
        var refusal = await TryAnswerAsync(adapter, message, cancellationToken);
        if (refusal is not null)
        {
            await adapter.PostAsync(message.Place.ChatId, message.MessageId, refusal, cancellationToken);
            await conversations.MarkQuestionAnsweredAsync(adapter.Network, message.Place.ChatId, message.MessageId,
                CancellationToken.None);
        }
    }

    /// <summary>Shows the answer of a question a stop left unanswered (<see cref="ChannelConversations.ResumeAsync"/>).</summary>
    public async Task ResumeAsync(IChannelAdapter adapter, ChannelQuestion question, CancellationToken cancellationToken)
    {
        // Read again: another server bot may have answered it, or posted its first reply, since the list was read.
        if (await conversations.FindQuestionAsync(question.Network, question.ChatId, question.MessageId,
                cancellationToken) is not { AnsweredAt: null } current)
        {
            return;
        }

        question = current;
        var member = new ChannelMember(question.Network, question.MemberId, question.MemberId);
        var (user, _) = await members.ResolveAsync(member, cancellationToken);
        caller.Become(user.Id, member, new ChannelPlace(question.ChatId, question.GroupId));
        await answering.AnswerAsync(adapter, question, text: null, seenBefore: true, takeBack: null, cancellationToken);
    }

    /// <summary>Answers the question; returns what to tell the member instead when it is refused.</summary>
    private async Task<string?> TryAnswerAsync(IChannelAdapter adapter, IncomingChannelMessage message,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(message.Text))
        {
            return ChannelTexts.EmptyQuestion;
        }

        var (user, identity) = await members.ResolveAsync(message.Author, cancellationToken);
        if (user.IsBanned)
        {
            LogRefusedBanned(logger, adapter.Network, message.Author.Id);
            return ChannelTexts.Banned;
        }

        caller.Become(user.Id, message.Author, message.Place);
        try
        {
            await AskAsync(adapter, message, user, identity, cancellationToken);
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

    private async Task AskAsync(IChannelAdapter adapter, IncomingChannelMessage message, User user,
        ChannelIdentity identity, CancellationToken cancellationToken)
    {
        // A message seen before (the network delivered it again, as Telegram does after a restart): its answer is
        // shown, or followed, never asked of the model a second time.
        if (await conversations.FindQuestionAsync(adapter.Network, message.Place.ChatId, message.MessageId,
                cancellationToken) is { } seen)
        {
            if (seen.AnsweredAt is null)
            {
                await answering.AnswerAsync(adapter, seen, message.Text, seenBefore: true, takeBack: null, cancellationToken);
            }

            return;
        }

        // A new chat is stored before the question is recorded (which names it), and taken back when the question is
        // refused (NewChats).
        var found = await chats.FindAsync(adapter.Network, user, message, cancellationToken);
        var started = found is null ? await chats.StartAsync(adapter.Network, user, identity, message, cancellationToken) : null;
        Func<Task>? takeBack = started is null ? null : () => chats.TakeBackAsync(user, started);
        var chatId = found ?? started!.Id;
        await conversations.SetCurrentAsync(adapter.Network, message.Place.ChatId, message.Author.Id, chatId,
            cancellationToken);
        var question = new ChannelQuestion(adapter.Network, message.Place.ChatId, message.MessageId,
            message.Author.Id, message.Place.GroupId, chatId, null, null, clock.UtcNow, null);
        if (!await conversations.TryAddQuestionAsync(question, cancellationToken))
        {
            // The same message handled side by side: the other handling answers it, in the chat it started.
            if (takeBack is not null)
            {
                await takeBack();
            }

            return;
        }

        await answering.AnswerAsync(adapter, question, message.Text, seenBefore: false, takeBack, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused a question from banned {Network} member {MemberId}")]
    private static partial void LogRefusedBanned(ILogger logger, string network, string memberId);
}

using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Feedback;
using MeatLizard.Application.Feedback.Commands;

namespace MeatLizard.Application.Channels;

/// <summary>
/// A member's 👍 or 👎 on one of the bot's answers on a chat network (a Discord reaction, a Telegram message_reaction)
/// rates that answer, as the web app's thumbs do (<see cref="RateAnswer"/>, with the answer's model and host), and
/// taking the thumb away withdraws the rating (<see cref="WithdrawRating"/>). Only the chat's owner rates it: a reaction
/// by anyone else, on a message that shows no answer, or by a banned member, is ignored without a word (a reaction gets
/// no reply).
/// </summary>
public interface IChannelFeedback
{
    /// <param name="postedMessageId">The bot's message the member reacted to.</param>
    /// <param name="rating"><see cref="Ratings.Up"/> or <see cref="Ratings.Down"/>.</param>
    /// <returns>Whether the answer was rated.</returns>
    Task<bool> RateAsync(ChannelMember member, ChannelPlace place, string postedMessageId, string rating,
        CancellationToken cancellationToken);

    /// <param name="postedMessageId">The bot's message the member took their reaction from.</param>
    /// <param name="rating">The thumb taken away (only a rating of that kind is withdrawn), or null for any rating: the
    /// network tells that the member holds no thumb on the message any more.</param>
    /// <returns>Whether a rating was withdrawn.</returns>
    Task<bool> WithdrawAsync(ChannelMember member, ChannelPlace place, string postedMessageId, string? rating,
        CancellationToken cancellationToken);
}

public sealed class ChannelFeedback(
    IChannelConversationStore conversations, IChannelIdentityStore identities, IUserRepository users,
    ChannelCaller caller, IMediator mediator) : IChannelFeedback
{
    public Task<bool> RateAsync(ChannelMember member, ChannelPlace place, string postedMessageId, string rating,
        CancellationToken cancellationToken) =>
        AsOwnerAsync(member, place, postedMessageId, async (chat, answer) =>
        {
            await mediator.Send(new RateAnswer(chat, answer, rating, null), cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> WithdrawAsync(ChannelMember member, ChannelPlace place, string postedMessageId, string? rating,
        CancellationToken cancellationToken) =>
        AsOwnerAsync(member, place, postedMessageId,
            (chat, answer) => mediator.Send(new WithdrawRating(chat, answer, rating), cancellationToken), cancellationToken);

    /// <summary>Sends the feedback as the member, on the answer the posted message shows, when there is one.</summary>
    private async Task<bool> AsOwnerAsync(ChannelMember member, ChannelPlace place, string postedMessageId,
        Func<Guid, Guid, Task<bool>> send, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        if (await conversations.FindPostedAnswerAsync(member.Network, place.ChatId, postedMessageId, cancellationToken)
                is not { } posted
            // Someone who never asked owns no chat: no user is made for a reaction.
            || await identities.FindAsync(member.Network, member.Id, cancellationToken) is not { } identity
            || await users.GetAsync(identity.UserId, cancellationToken) is not { IsBanned: false } user)
        {
            return false;
        }

        caller.Become(user.Id, member, place);
        try
        {
            return await send(posted.ChatId.Value, posted.AnswerId.Value);
        }
        catch (Exception ex) when (ex is NotFoundException or RateLimitedException)
        {
            return false; // another member's chat (the owner's alone to rate), or rating too fast
        }
    }
}

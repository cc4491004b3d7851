using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages.Commands;

public sealed record SendMessageResult(Guid MessageId, Guid RequestId);

/// <summary>
/// Stores the user's message and a pending relay request in one conditional write (the outbox), then wakes the
/// dispatcher.
/// </summary>
public sealed record SendMessage(
    Guid SessionId, string? Content, double? Temperature = null, double? TopP = null, int? MaxTokens = null)
    : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => LimitsTaken ? [] : RateLimitScopes.ModelWork;

    /// <summary>
    /// Set by a command that took the model-work tokens itself before writing anything (an OpenAI completion, which
    /// may write a chat and its history first), so the send does not take them twice.
    /// </summary>
    public bool LimitsTaken { get; init; }

    /// <summary>Only a message that could be sent counts: a send refused as busy, closed or gone costs nothing.</summary>
    public bool OnlySuccessCounts => true;

    /// <summary>What the request asks beyond sampling (OpenAI's chat completions); none for the web app's sends.</summary>
    public GenerationOptions Options { get; init; } = GenerationOptions.None;
}

/// <remarks>
/// The chat is checked and the message queued by one conditional write
/// (<see cref="IRelayRequestRepository.TryQueueAsync"/>): it stores nothing if the chat changed since it was read or
/// is being answered, and the chat is then read again and decided again. A chat this process queued a message in
/// before is known (<see cref="KnownChats"/>), so the next message in it usually costs that one write and no read.
/// The rate limits are taken (and given back when the send is refused) by the pipeline's rate-limit behaviour.
/// </remarks>
public sealed class SendMessageHandler(
    UserAccess access,
    IChatSessionRepository sessions,
    IRelayRequestRepository requests,
    KnownChats knownChats,
    QuestionQueue queue,
    IClock clock) : IRequestHandler<SendMessage, SendMessageResult>
{
    /// <summary>Reads and conditional writes before giving up on a chat that keeps changing under the send.</summary>
    internal const int Attempts = 3;

    public async Task<SendMessageResult> Handle(SendMessage request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var content = PromptText.From(request.Content);
        var sampling = SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens);
        var sessionId = new SessionId(request.SessionId);

        var relayRequest = await QueueAsync(user, sessionId, content, sampling, request.Options, cancellationToken);
        await queue.QueuedAsync(relayRequest, "send", cancellationToken);
        return new SendMessageResult(relayRequest.UserMessageId.Value, relayRequest.Id.Value);
    }

    private async Task<RelayRequest> QueueAsync(User user, SessionId sessionId, PromptText content,
        SamplingParameters sampling, GenerationOptions options, CancellationToken cancellationToken)
    {
        // A known chat is used only to try the write: whatever refuses the message is decided on a fresh read.
        var known = knownChats.Find(sessionId);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var (chat, version) =
                attempt == 0 && known is { } hint && hint.Chat.IsVisibleTo(user) && !hint.Chat.IsClosed
                    ? hint
                    : await ReadAsync(user, sessionId, cancellationToken);
            if (attempt == 0)
            {
                await queue.RequireRoomAsync(chat, cancellationToken);
            }

            var now = clock.UtcNow;
            var message = chat.PostUserMessage(user, content, now);
            var pending = RelayRequest.Create(chat.Id, user.Id, message.Id, sampling.Over(chat.Sampling), now, options,
                MessageTracing.CurrentOrNew());
            var stored = await requests.TryQueueAsync(chat, version, message, pending, cancellationToken);
            if (stored is not null)
            {
                knownChats.Remember(chat, stored);
                return pending;
            }

            knownChats.Forget(sessionId);
        }

        throw new ConflictException("The chat changed while the message was being sent; send it again.");
    }

    private async Task<(ChatSession Chat, string Version)> ReadAsync(
        User user, SessionId sessionId, CancellationToken cancellationToken)
    {
        var state = await sessions.GetWithAnswerStateAsync(sessionId, cancellationToken);
        if (state is null || !state.Session.IsVisibleTo(user))
        {
            throw NotFoundException.Chat();
        }

        if (state.IsAnswering)
        {
            throw ConflictException.ChatIsAnswering();
        }

        return (state.Session, state.Version);
    }
}

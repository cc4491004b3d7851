using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>A request ends with a notice: its host's error, or the relay's refusal to send it.</summary>
public sealed class NoticeOutcome(OutcomeStore store, OutcomeTelling telling, RelayStreamState streams, IClock clock)
{
    /// <summary>
    /// Stores the worker's error as a notice; <paramref name="storedStatus"/>, <paramref name="deltas"/> and the result
    /// as for <see cref="CompleteOutcome.CompleteAsync"/>.
    /// </summary>
    public Task<bool> FailAsync(RelayRequest request, ErrorBody error, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null) =>
        EndWithNoticeAsync(request, error, $"The model host could not answer: {error.Message}", cancellationToken,
            storedStatus, deltas);

    /// <summary>
    /// Ends a request the relay will not send (e.g. a model no host serves) with <paramref name="notice"/> as its
    /// answer, <paramref name="code"/> as its error.
    /// </summary>
    public Task<bool> RefuseAsync(RelayRequest request, string code, string notice, CancellationToken cancellationToken) =>
        EndWithNoticeAsync(request, new ErrorBody(code, notice), notice, cancellationToken);

    private async Task<bool> EndWithNoticeAsync(RelayRequest request, ErrorBody error, string text,
        CancellationToken cancellationToken, RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null)
    {
        var now = clock.UtcNow;
        var notice = Message.Answer(request.ChatId, request.Id, text, MessageSource.Notice, null, now);
        var read = storedStatus ?? request.Status;
        if (!request.Fail(error.Code, notice.Id, now))
        {
            return true;
        }

        var stored = await store.StoreAsync(request, read, notice, cancellationToken);
        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return false;
        }

        ChatEvent[] told = [.. deltas ?? [], new ChatEvent(ChatEventTypes.Error, request.ChatId.Value, request.Id.Value,
            Error: error.Message)];
        await telling.PublishAnswerAsync(request, told, notice, AnswerStatuses.Failed, cancellationToken);
        await telling.RecordAsync(request, now, "failed", null, cancellationToken);
        await telling.ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// What follows a stored ending: the chat's listeners are told, the figures recorded, and a chat that asked to keep
/// nothing is deleted.
/// </summary>
public sealed partial class OutcomeTelling(
    IChatEvents events,
    PlatformMetrics platformMetrics,
    IChatRepository chats,
    IChatClosedSignal closedSignal,
    Messages.ChatImages images,
    OutcomeFigures figures,
    ILogger<OutcomeTelling> logger)
{
    /// <summary>
    /// The answer and the request's final status, after <paramref name="before"/> when given, as one unit: one
    /// message on a bus that crosses processes instead of one each.
    /// </summary>
    public async Task PublishAnswerAsync(RelayRequest request, IReadOnlyList<ChatEvent>? before, Message answer,
        string status, CancellationToken cancellationToken)
    {
        platformMetrics.AnswerStored(answer.Source);
        await events.PublishAsync([
            .. before ?? [],
            new ChatEvent(ChatEventTypes.Message, request.ChatId.Value, request.Id.Value,
                Message: answer.ToDto()),
            new ChatEvent(ChatEventTypes.Status, request.ChatId.Value, request.Id.Value, Status: status),
        ], cancellationToken);
    }

    /// <summary>
    /// The request's new status alone (requeued, cancelled with nothing kept), after <paramref name="before"/> when given,
    /// as one unit.
    /// </summary>
    public ValueTask PublishStatusAsync(RelayRequest request, string status, CancellationToken cancellationToken,
        IReadOnlyList<ChatEvent>? before = null)
    {
        var told = new ChatEvent(ChatEventTypes.Status, request.ChatId.Value, request.Id.Value, Status: status);
        return before is { Count: > 0 }
            ? events.PublishAsync([.. before, told], cancellationToken)
            : events.PublishAsync(told, cancellationToken);
    }

    /// <summary>The request's new status and what was kept of its answer, as one unit.</summary>
    public ValueTask PublishStatusAsync(RelayRequest request, string status, Message kept, CancellationToken cancellationToken) =>
        events.PublishAsync([
            new ChatEvent(ChatEventTypes.Status, request.ChatId.Value, request.Id.Value, Status: status),
            new ChatEvent(ChatEventTypes.Message, request.ChatId.Value, request.Id.Value, Message: kept.ToDto()),
        ], cancellationToken);

    /// <summary>The request's figures (<see cref="OutcomeFigures.RecordAsync"/>): last, and never at the cost of the answer.</summary>
    public Task RecordAsync(
        RelayRequest request, DateTimeOffset now, string outcome, FinalBody? final, CancellationToken cancellationToken) =>
        figures.RecordAsync(request, now, outcome, final, cancellationToken);

    /// <summary>
    /// A request that asked to keep nothing (OpenAI's <c>store: false</c>) takes its chat with it once answered and told:
    /// the chat was made for it alone. Its relay channel goes too (the server bot deletes the channel of a chat that is
    /// gone, now when told, else at its next sweep), and so do its images in the object store (the question's and any
    /// earlier turn's), first. A failure is logged; the chat then stays until the sweep of such chats deletes it and its
    /// images (<see cref="Chats.ForgottenChatSweeper"/>).
    /// </summary>
    public async Task ForgetIfAskedAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        if (!request.Options.KeepNothing)
        {
            return;
        }

        try
        {
            // The chat was made for this request alone, so its asker owns it and its images.
            await images.ForgetChatAsync(request.UserId, request.ChatId, cancellationToken);
            await chats.DeleteAsync(request.ChatId, cancellationToken);
            closedSignal.NotifyClosed(request.ChatId.Value);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogForgetFailed(logger, request.Id.Value, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The chat of request {RequestId}, which asked to keep nothing, could not be deleted ({ErrorType})")]
    private static partial void LogForgetFailed(ILogger logger, Guid requestId, string errorType);
}

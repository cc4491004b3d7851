using System.Diagnostics;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>A request ends with the model's answer.</summary>
public sealed partial class CompleteOutcome(
    OutcomeStore store,
    OutcomeTelling telling,
    NoticeOutcome notices,
    AnswerReuse reuse,
    RelayStreamState streams,
    IClock clock,
    ILogger<CompleteOutcome> logger)
{
    /// <summary>
    /// Stores the answer. <paramref name="storedStatus"/> is the status the request has in the store when the caller
    /// changed it in memory since (an ack or pieces applied together with this final); by default its current one.
    /// <paramref name="deltas"/> are pieces that arrived with the final: they are published with the answer, before
    /// it, as one unit. False when nothing was stored: the request had ended, or another process changed it since it
    /// was read. <paramref name="fromCache"/>: the answer is the answer cache's, given again without a model host.
    /// </summary>
    public async Task<bool> CompleteAsync(RelayRequest request, FinalBody final, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null, bool fromCache = false)
    {
        // Storing the answer ends the message's trace, which began with the send.
        using var activity = MessageTracing.StartUnder("answer store", ActivityKind.Internal, request.TraceParent,
            request.Id.Value);
        using var scope = logger.BeginRequestScope(request.Id.Value, request.TraceParent);
        var now = clock.UtcNow;
        var answer = Message.Answer(request.ChatId, request.Id, final.Content, MessageSource.Model,
            new TokenCounts(final.PromptTokens, final.CompletionTokens), now, final.Model, FinishOf(final),
            final.ToolCalls.ToToolCalls(), cached: fromCache);
        var read = storedStatus ?? request.Status;
        var carriesText = !string.IsNullOrEmpty(final.Content) || final.ToolCalls is { Count: > 0 };
        if (!request.Complete(answer.Id, now, carriesText))
        {
            return true; // already ended: nothing to store, and reading it again would change nothing
        }

        bool stored;
        try
        {
            stored = await store.StoreThroughOutagesAsync(request, read, answer, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !DatabaseFailures.IsOutage(ex))
        {
            // The database refuses this answer, and will again: the request ends now with a notice instead of waiting
            // for the completion timeout (which would answer with the fallback and keep the chat busy meanwhile).
            streams.Remove(request.Id.Value);
            LogAnswerRefused(logger, request.Id.Value, ex.GetType().Name);
            return await EndUnstorableAsync(request.Id, deltas, cancellationToken);
        }

        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return false;
        }

        LogAnswerStored(logger, request.Id.Value, final.CompletionTokens);
        await telling.PublishAnswerAsync(request, deltas, answer, AnswerStatuses.Completed, cancellationToken);
        // After the answer is out: keeping it for the cache (in Redis, perhaps) does not delay it.
        await reuse.KeepAsync(request, final, fromCache, cancellationToken);
        await telling.RecordAsync(request, now, "completed", final, cancellationToken);
        await telling.ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }

    /// <summary>
    /// Why the model stopped, as the host's engine said (llama.cpp and OpenAI-compatible servers say <c>stop</c> or
    /// <c>length</c>); null for anything else, which the answer then leaves unsaid.
    /// </summary>
    internal static FinishReason? FinishOf(FinalBody final) => final.FinishReason switch
    {
        "stop" => FinishReason.Stop,
        "length" => FinishReason.Length,
        "tool_calls" => FinishReason.ToolCalls,
        _ => null,
    };

    /// <summary>Ends a request whose answer the database refused with a notice saying so, as read again from the store.</summary>
    private async Task<bool> EndUnstorableAsync(
        RelayRequestId id, IReadOnlyList<ChatEvent>? deltas, CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(id, cancellationToken) is not { IsFinished: false } stored)
        {
            return true;
        }

        return await notices.FailAsync(stored, new ErrorBody("answer_not_stored",
            "the answer it produced could not be stored; please ask again"), cancellationToken, deltas: deltas);
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The database refused the answer of request {RequestId} ({Error}); the request ends with a notice")]
    private static partial void LogAnswerRefused(ILogger logger, Guid requestId, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The answer of request {RequestId} is stored ({CompletionTokens} tokens)")]
    private static partial void LogAnswerStored(ILogger logger, Guid requestId, int completionTokens);
}

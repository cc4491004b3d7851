using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>A request no model host answered in time ends with the fallback's reply (or a notice).</summary>
public sealed partial class FallbackOutcome(
    OutcomeStore store,
    OutcomeTelling telling,
    FallbackReplies replies,
    HostEnvelopes toHosts,
    RelayStreamState streams,
    IClock clock,
    ILogger<FallbackOutcome> logger)
{
    /// <summary>Times the request out and lets the configured fallback answer; tells a worker that has it to stop.</summary>
    public async Task FallBackAsync(RelayRequest request, RelayTimeoutReason reason, CancellationToken cancellationToken)
    {
        using var activity = MessageTracing.StartUnder("fallback answer", ActivityKind.Internal, request.TraceParent,
            request.Id.Value);
        using var scope = logger.BeginRequestScope(request.Id.Value, request.TraceParent);
        LogFallingBack(logger, request.Id.Value, reason);
        var wasInFlight = request.IsInFlight;
        var read = request.Status;
        request.TimeOut(reason, clock.UtcNow);
        var reply = await replies.ReplyAsync(request, reason, cancellationToken);
        var now = clock.UtcNow;
        var answer = Message.Answer(request.ChatId, request.Id, reply.Content, reply.Source, null, now);
        request.FallBack(answer.Id, now);
        var stored = await store.StoreAsync(request, read, answer, cancellationToken);
        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return;
        }

        if (wasInFlight)
        {
            await toHosts.CancelAsync(request, "timed out", cancellationToken);
        }

        await telling.PublishAnswerAsync(request, null, answer, AnswerStatuses.Fallback, cancellationToken);
        await telling.RecordAsync(request, now, $"fallback:{reason}", null, cancellationToken);
        await telling.ForgetIfAskedAsync(request, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} timed out ({Reason}); the fallback answers")]
    private static partial void LogFallingBack(ILogger logger, Guid requestId, RelayTimeoutReason reason);
}

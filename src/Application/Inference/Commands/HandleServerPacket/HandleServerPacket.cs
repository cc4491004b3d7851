using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference.Commands;

/// <summary>
/// What the server sent to this worker (requests to run, cancels), in the order it arrived: a session's packets are
/// always handled in that order.
/// </summary>
public sealed record HandleServerPacket(IReadOnlyList<RelayPacket> Packets) : IRequest<MediatR.Unit>
{
    public HandleServerPacket(RelayPacket packet)
        : this([packet])
    {
    }
}

public sealed partial class HandleServerPacketHandler(
    IEnvelopeCipher cipher,
    InferenceJobRunner runner,
    EmbeddingJobRunner embeddings,
    HostJobs jobs,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<HandleServerPacketHandler> logger) : IRequestHandler<HandleServerPacket, MediatR.Unit>
{

    public async Task<MediatR.Unit> Handle(HandleServerPacket request, CancellationToken cancellationToken)
    {
        // All opened at once, so that their replay checks travel to the shared replay memory together instead of one
        // round trip after another; then acted on in arrival order (a cancel after its request).
        var opening = new ValueTask<RelayEnvelope?>[request.Packets.Count];
        for (var i = 0; i < opening.Length; i++)
        {
            opening[i] = cipher.OpenPacketAsync(request.Packets[i], RelayDirection.ServerToClient, cancellationToken);
        }

        for (var i = 0; i < opening.Length; i++)
        {
            var delivery = request.Packets[i].Delivery;
            try
            {
                if (await opening[i] is { } envelope)
                {
                    await ApplyAsync(envelope, delivery?.CaughtUp == true, cancellationToken);
                }

                // Acted on (a job started and acknowledged, a cancel applied) or refused for good: the transport may
                // move past it. A packet whose handling failed is read again after a restart.
                delivery?.Handled();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One packet's failure is its own: the packets after it are still handled.
                LogPacketFailed(logger, ex);
            }
        }

        return MediatR.Unit.Value;
    }

    private async Task ApplyAsync(RelayEnvelope envelope, bool caughtUp, CancellationToken cancellationToken)
    {
        switch (envelope.Type)
        {
            case EnvelopeType.Request or EnvelopeType.Embed
                when caughtUp && clock.UtcNow - envelope.SentAt > options.Value.AckTimeout:
                // Read after a restart, later than the server waits for an ack: it has answered with its fallback
                // already, so running it would only spend the model on an answer nobody stores. (Only requests read
                // late are checked: a live one is run whatever the clocks of the two machines say.)
                jobs.CountGivenUp();
                LogGivenUp(logger, envelope.RequestId, (int)(clock.UtcNow - envelope.SentAt).TotalSeconds);
                break;
            case EnvelopeType.Request when jobs.BegunByAnEarlierRun(envelope.RequestId, Math.Max(1, envelope.Seq)):
                // The killed or stopped run that took this dispatch had begun answering it, and may have streamed part of
                // the answer: answered again from the beginning here, its pieces would follow those clients were shown.
                // It is handed back instead: the server sends it again as a new attempt that goes on from them (as it
                // does on its own once it sees this new run — unless it restarted meanwhile and cannot tell).
                jobs.CountBegunBefore();
                LogBegunBefore(logger, envelope.RequestId, Math.Max(1, envelope.Seq));
                await runner.HandBackAsync(envelope, JobEnvelopes.Restarted, cancellationToken);
                break;
            case EnvelopeType.Request:
                await AcceptAsync(envelope, cancellationToken);
                break;
            case EnvelopeType.Embed:
                await embeddings.AcceptAsync(envelope, cancellationToken);
                break;
            case EnvelopeType.Cancel:
                jobs.Cancel(envelope.RequestId);
                break;
            default:
                LogUnexpected(logger, envelope.Type, envelope.RequestId);
                break;
        }
    }

    private async Task AcceptAsync(RelayEnvelope envelope, CancellationToken cancellationToken)
    {
        RequestBody body;
        try
        {
            body = RelayJson.FromBody<RequestBody>(envelope);
        }
        catch (JsonException)
        {
            LogRejected(logger, EnvelopeRejection.MalformedPayload, envelope.SessionId);
            return;
        }

        if (body.WorkerId is { } target && target != jobs.WorkerId)
        {
            // For another model host sharing the relay channels: the server chose it, not this one.
            jobs.CountForAnotherHost();
            return;
        }

        if (jobs.Draining)
        {
            await runner.HandBackAsync(envelope, JobEnvelopes.Draining, cancellationToken);
            return;
        }

        // The runner acknowledges: with the first output when it comes soon, otherwise with a plain ack.
        runner.Start(envelope, body);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected a relay envelope ({Reason}) on channel of session {SessionId}")]
    private static partial void LogRejected(ILogger logger, EnvelopeRejection reason, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Skipped request {RequestId}, read {AgeSeconds} s after it was sent: the server gave it up after the ack timeout")]
    private static partial void LogGivenUp(ILogger logger, Guid requestId, int ageSeconds);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Left request {RequestId} (attempt {Attempt}) to the server: this host's last run had begun answering it")]
    private static partial void LogBegunBefore(ILogger logger, Guid requestId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a packet from the server failed")]
    private static partial void LogPacketFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a {Type} envelope from the server for request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, EnvelopeType type, Guid requestId);
}

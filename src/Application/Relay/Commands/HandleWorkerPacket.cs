using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>Something a worker sent: decrypt, validate, then apply it to its request (or the worker registry).</summary>
public sealed record HandleWorkerPacket(RelayPacket Packet) : IRequest<MediatR.Unit>;

public sealed partial class HandleWorkerPacketHandler(
    IEnvelopeCipher cipher,
    IRelayRequestRepository requests,
    IWorkerPresence presence,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    RelayStreamState streams,
    IChatEvents events,
    IClock clock,
    ILogger<HandleWorkerPacketHandler> logger) : IRequestHandler<HandleWorkerPacket, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(HandleWorkerPacket request, CancellationToken cancellationToken)
    {
        var packet = request.Packet;
        if (await cipher.OpenPacketAsync(packet, RelayDirection.ClientToServer, cancellationToken) is not { } envelope)
        {
            return MediatR.Unit.Value;
        }

        try
        {
            await ApplyAsync(envelope, cancellationToken);
        }
        catch (JsonException)
        {
            LogRejected(logger, EnvelopeRejection.MalformedPayload, packet.SessionId);
        }

        return MediatR.Unit.Value;
    }

    private async Task ApplyAsync(RelayEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.Type == EnvelopeType.Heartbeat)
        {
            var beat = RelayJson.FromBody<HeartbeatBody>(envelope);
            await presence.RecordAsync(new WorkerHealth(beat.WorkerId, beat.Engine, beat.EngineReady, beat.JobsRunning,
                beat.Draining, beat.LastError, clock.UtcNow, beat.EngineLoading), cancellationToken);
            return;
        }

        if (envelope.Type is not (EnvelopeType.Ack or EnvelopeType.Partial or EnvelopeType.Final or EnvelopeType.Error))
        {
            LogUnexpected(logger, envelope.Type, envelope.RequestId);
            return;
        }

        using (await gate.EnterAsync(envelope.RequestId, cancellationToken))
        {
            var relayRequest = await requests.GetAsync(new RelayRequestId(envelope.RequestId), cancellationToken);
            if (relayRequest is null || relayRequest.SessionId.Value != envelope.SessionId)
            {
                LogUnknownRequest(logger, envelope.Type, envelope.RequestId);
                return;
            }

            switch (envelope.Type)
            {
                case EnvelopeType.Ack:
                    if (relayRequest.Acknowledge(clock.UtcNow))
                    {
                        await requests.UpdateAsync(relayRequest, cancellationToken);
                    }

                    break;
                case EnvelopeType.Partial:
                    await ApplyPartialAsync(relayRequest, envelope, cancellationToken);
                    break;
                case EnvelopeType.Final:
                    await outcomes.CompleteAsync(relayRequest, RelayJson.FromBody<FinalBody>(envelope), cancellationToken);
                    break;
                default:
                    await outcomes.FailAsync(relayRequest, RelayJson.FromBody<ErrorBody>(envelope), cancellationToken);
                    break;
            }
        }
    }

    private async Task ApplyPartialAsync(RelayRequest relayRequest, RelayEnvelope envelope, CancellationToken cancellationToken)
    {
        var partial = RelayJson.FromBody<PartialBody>(envelope);
        var firstPiece = relayRequest.Status == RelayRequestStatus.Dispatched;
        if (streams.Peek(relayRequest.Id.Value)?.LastSeq >= envelope.Seq
            || !relayRequest.ReceivePartial(envelope.Seq, clock.UtcNow))
        {
            return; // late (after cancel or timeout), repeated or out of order
        }

        // Only the first piece changes what is stored (Dispatched → Streaming). Later sequence numbers are kept in
        // memory: a lane keeps one session's envelopes in order and the cipher refuses replays.
        if (firstPiece)
        {
            await requests.UpdateAsync(relayRequest, cancellationToken);
        }

        streams.Append(relayRequest.Id.Value, envelope.Seq, partial.Text);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Delta, envelope.SessionId, envelope.RequestId,
            Seq: envelope.Seq, Text: partial.Text), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected a relay envelope ({Reason}) on channel of session {SessionId}")]
    private static partial void LogRejected(ILogger logger, EnvelopeRejection reason, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a {Type} envelope from a worker for request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, EnvelopeType type, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Type} envelope names unknown request {RequestId}")]
    private static partial void LogUnknownRequest(ILogger logger, EnvelopeType type, Guid requestId);
}

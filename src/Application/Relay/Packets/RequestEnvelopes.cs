using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Packets;

/// <summary>An envelope from a model host, with its body read; <see cref="Packet"/> is the packet it came in.</summary>
public sealed record IncomingEnvelope(RelayEnvelope Envelope, object? Body, RelayPacket? Packet = null);

/// <summary>
/// Applies the envelopes of one request that arrived together (an ack, pieces and the final of a quick answer) in
/// memory and stores them once: the request's last state in one conditional write — with the answer when the final is
/// among them — instead of one read and one write each. The caller holds the request's gate. A host that goes on with a
/// request that has ended for good (cancelled, answered, timed out) — its end decided by another process, whose word
/// did not reach it — is told to stop.
/// </summary>
public sealed partial class RequestEnvelopes(
    IRelayRequestRepository requests,
    RelayOutcomes outcomes,
    HostErrors errors,
    StreamedPieces pieces,
    RelayStreamState streams,
    IClock clock,
    ILogger<RequestEnvelopes> logger)
{
    /// <summary>
    /// False when the request is no longer as read: the store refused the change, or a host's envelope is of a later
    /// attempt than <paramref name="relayRequest"/> (a copy kept in memory while another process sent the request
    /// again); nothing is stored then.
    /// </summary>
    public async Task<bool> ApplyAsync(RelayRequest? relayRequest, List<IncomingEnvelope> group,
        CancellationToken cancellationToken)
    {
        var first = group[0].Envelope;
        if (relayRequest is null || relayRequest.ChatId.Value != first.SessionId)
        {
            LogUnknownRequest(logger, first.Type, first.RequestId);
            return true;
        }

        var requestId = relayRequest.Id.Value;
        // Every line logged while the host's envelopes are applied (acks, pieces, the answer) names the message's trace.
        using var scope = logger.BeginRequestScope(requestId, relayRequest.TraceParent);
        var read = relayRequest.Status;
        var firstPieceAt = relayRequest.FirstPieceAt;
        var acked = false;
        var workingOnEnded = false;
        List<(int Seq, string Text)>? arrived = null;
        foreach (var (envelope, body, _) in group)
        {
            var attempt = RelayRequest.AttemptOf(envelope.Seq);
            if (attempt > relayRequest.Attempts)
            {
                // Sent again since this copy was read (by another server bot): the stored request knows this attempt.
                return false;
            }

            if (attempt != relayRequest.Attempts)
            {
                // From a host the request was taken from (it went quiet, then came back): another has it now.
                LogOtherAttempt(logger, envelope.Type, requestId);
                continue;
            }

            // Its host still works on it (an ack, a piece) while the request has ended for good: no later attempt can
            // follow, so a cancel for it stops nothing live.
            workingOnEnded |= body is PartialBody or AckBody
                && (relayRequest.IsFinished || relayRequest.Status == RelayRequestStatus.TimedOut);

            switch (body)
            {
                case FinalBody final:
                    // Clients are promised deltas that add up to the answer, followed by the answer: the pieces that
                    // came with the final are published with it, as one unit.
                    return await outcomes.CompleteAsync(relayRequest, final, cancellationToken, read,
                        pieces.Deltas(requestId, first.SessionId, arrived));
                case ErrorBody error:
                    // The pieces that came with it are added to the stream first: a request handed back goes on from
                    // them (a host that loses its engine under load sends its last pieces and the error together).
                    return await errors.ApplyAsync(relayRequest, error, read,
                        pieces.Deltas(requestId, first.SessionId, arrived), cancellationToken);
                case PartialBody partial:
                    // Late (after cancel or timeout), repeated or out of order pieces change nothing. One another server
                    // bot stored first (the stored request is past it) is still told here, once: without a shared event
                    // bus (Redis away) this process's followers hear only what it publishes, and one piece missing
                    // would hold back the rest of their answer as after a gap.
                    var streamed = streams.LastSeqOf(requestId);
                    if ((streamed is null || envelope.Seq > streamed)
                        && (relayRequest.ReceivePartial(envelope.Seq, clock.UtcNow, !string.IsNullOrEmpty(partial.Text))
                            || (relayRequest.IsInFlight && envelope.Seq <= relayRequest.LastSeq)))
                    {
                        (arrived ??= []).Add((envelope.Seq, partial.Text));
                    }

                    break;
                default:
                    acked |= relayRequest.Acknowledge(clock.UtcNow, (body as AckBody)?.BootId);
                    break;
            }
        }

        // What is stored changes with an ack, with the first piece (Dispatched → Streaming) and with the first that
        // carries text (the time to first token); later sequence numbers are kept in memory: a lane keeps one session's
        // envelopes in order and the cipher refuses replays.
        var changed = acked || relayRequest.Status != read || relayRequest.FirstPieceAt != firstPieceAt;
        if (changed && !await requests.TryUpdateAsync(relayRequest, read, cancellationToken))
        {
            return false; // another process changed or ended the request meanwhile
        }

        streams.RememberStored(relayRequest, stored: changed);
        await pieces.StreamAsync(requestId, first.SessionId, arrived, cancellationToken);
        if (workingOnEnded && await outcomes.StopEndedAsync(relayRequest, cancellationToken))
        {
            LogHostToldToStop(logger, requestId, relayRequest.Status);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Ignored a {Type} envelope for request {RequestId} from an earlier attempt: another host has it now")]
    private static partial void LogOtherAttempt(ILogger logger, EnvelopeType type, Guid requestId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "The host of request {RequestId} went on with it while it is {Status} (its end decided elsewhere): told it to stop")]
    private static partial void LogHostToldToStop(ILogger logger, Guid requestId, RelayRequestStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Type} envelope names unknown request {RequestId}")]
    private static partial void LogUnknownRequest(ILogger logger, EnvelopeType type, Guid requestId);
}

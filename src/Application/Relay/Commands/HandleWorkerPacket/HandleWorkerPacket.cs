using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// What a worker sent, in the order it arrived: one packet, or the packets one inbound lane had waiting. Each is
/// decrypted and validated, then applied to its request (or the worker registry). Answers the packets whose handling
/// failed (nothing they carry was stored, none is marked handled): the caller tries them again.
/// </summary>
public sealed record HandleWorkerPacket(IReadOnlyList<RelayPacket> Packets) : IRequest<IReadOnlyList<RelayPacket>>
{
    public HandleWorkerPacket(RelayPacket packet)
        : this([packet])
    {
    }
}

/// <summary>
/// Applies a worker's envelopes. The envelopes of one request that arrived together (an ack, pieces and the final
/// of a quick answer) are applied in memory and stored once: the request's last state in one conditional write —
/// with the answer when the final is among them — instead of one read and one write each. The request is taken as
/// this process last stored it when it knows it (<see cref="RelayStreamState"/>); if another process changed it
/// since, the conditional write says so and the envelopes are applied again to the stored request.
/// </summary>
public sealed partial class HandleWorkerPacketHandler(
    IEnvelopeCipher cipher,
    IRelayRequestRepository requests,
    IWorkerPresence presence,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    RelayStreamState streams,
    IChatEvents events,
    ModelHosts hosts,
    HostFailures failures,
    IRelayQueueSignal queueSignal,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<HandleWorkerPacketHandler> logger) : IRequestHandler<HandleWorkerPacket, IReadOnlyList<RelayPacket>>
{
    public async Task<IReadOnlyList<RelayPacket>> Handle(HandleWorkerPacket request, CancellationToken cancellationToken)
    {
        // Envelopes grouped by request, each group in arrival order (a lane keeps one session's envelopes in order).
        var groups = new List<List<Incoming>>();
        Dictionary<Guid, List<Incoming>>? byRequest = null;
        // All opened at once, so their replay checks travel to the shared replay memory together. An envelope is only
        // checked against those handled before, and marked handled once what it carries is stored: an answer whose
        // store failed, or whose process died before storing it, is taken again when it is read again.
        var opening = new ValueTask<RelayEnvelope?>[request.Packets.Count];
        for (var i = 0; i < opening.Length; i++)
        {
            opening[i] = cipher.OpenUnhandledPacketAsync(request.Packets[i], RelayDirection.ClientToServer, cancellationToken);
        }

        for (var i = 0; i < opening.Length; i++)
        {
            var packet = request.Packets[i];
            if (await opening[i] is not { } envelope || Read(envelope, packet.SessionId) is not { } incoming)
            {
                packet.Delivery?.Handled(); // refused for good (logged and counted): reading it again changes nothing
                continue;
            }

            if (envelope.Type == EnvelopeType.Heartbeat)
            {
                var beat = (HeartbeatBody)incoming.Body!;
                // A heartbeat read late (after a restart) says nothing about now: a worker whose last heartbeat is older
                // than the worker timeout must not count as alive. (A live one counts whatever the two clocks say.)
                if (packet.Delivery?.CaughtUp == true && clock.UtcNow - envelope.SentAt > options.Value.WorkerTimeout)
                {
                    await HandledAsync([incoming with { Packet = packet }], cancellationToken);
                    continue;
                }

                hosts.NoteBoot(beat.WorkerId, beat.BootId);
                var health = new WorkerHealth(beat.WorkerId, beat.Engine, beat.EngineReady, beat.JobsRunning,
                    beat.Draining, beat.LastError, clock.UtcNow, beat.EngineLoading, ServedModels(beat), HostNameOf(beat),
                    beat.Slots is { } slots ? Math.Clamp(slots, 1, MaxSlotsPerHost) : null,
                    Speed(beat.TokensPerSecond))
                {
                    ModelDetails = ModelDetailsOf(beat),
                    EngineRestarting = beat.EngineRestarting && !beat.EngineReady,
                };
                await presence.RecordAsync(health, cancellationToken);
                if (hosts.NoteHeartbeat(health, beat.BootId, options.Value.WorkerTimeout))
                {
                    // It can take work it could not before (its engine is back, say): what waits goes to it now, not
                    // at the dispatcher's next poll.
                    queueSignal.NotifyPending();
                }

                await HandledAsync([incoming with { Packet = packet }], cancellationToken);
                continue;
            }

            byRequest ??= [];
            if (!byRequest.TryGetValue(envelope.RequestId, out var group))
            {
                byRequest[envelope.RequestId] = group = [];
                groups.Add(group);
            }

            group.Add(incoming with { Packet = packet });
        }

        List<RelayPacket>? failed = null;
        foreach (var group in groups)
        {
            try
            {
                await ApplyAsync(group, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Not marked handled: the caller tries them again, and a restart or a new gateway session reads them
                // again from the last message handled. The other requests' envelopes go on.
                LogApplyFailed(logger, group[0].Envelope.RequestId, ex);
                (failed ??= []).AddRange(group.Select(incoming => incoming.Packet!));
                continue;
            }

            await HandledAsync(group, cancellationToken);
        }

        return failed ?? (IReadOnlyList<RelayPacket>)[];
    }

    /// <summary>What the envelopes carried is stored: copies are refused from now on, and the transport may move past them.</summary>
    private async Task HandledAsync(List<Incoming> handled, CancellationToken cancellationToken)
    {
        var marking = new ValueTask[handled.Count];
        for (var i = 0; i < marking.Length; i++)
        {
            marking[i] = cipher.MarkHandledAsync(handled[i].Envelope, cancellationToken);
        }

        for (var i = 0; i < marking.Length; i++)
        {
            await marking[i];
            handled[i].Packet?.Delivery?.Handled();
        }
    }

    /// <summary>The envelope with its body read; null (logged) when it is malformed or not one a worker sends.</summary>
    private Incoming? Read(RelayEnvelope envelope, Guid? channelSessionId)
    {
        try
        {
            return envelope.Type switch
            {
                EnvelopeType.Heartbeat => new Incoming(envelope, RelayJson.FromBody<HeartbeatBody>(envelope)),
                EnvelopeType.Ack => new Incoming(envelope, null),
                // Model output is cleaned here, before it is streamed or stored, so every database stores it alike
                // (PostgreSQL refuses NUL) and every client reads the same text.
                EnvelopeType.Partial => new Incoming(envelope, Cleaned(RelayJson.FromBody<PartialBody>(envelope))),
                EnvelopeType.Final => new Incoming(envelope, Cleaned(RelayJson.FromBody<FinalBody>(envelope))),
                EnvelopeType.Error => new Incoming(envelope, Cleaned(RelayJson.FromBody<ErrorBody>(envelope))),
                _ => Unexpected(envelope),
            };
        }
        catch (JsonException)
        {
            LogRejected(logger, EnvelopeRejection.MalformedPayload, channelSessionId);
            return null;
        }
    }

    private static PartialBody Cleaned(PartialBody partial) => partial with { Text = StorableText.Clean(partial.Text) };

    private static FinalBody Cleaned(FinalBody final) => final with { Content = StorableText.Clean(final.Content) };

    private static ErrorBody Cleaned(ErrorBody error) => error with { Message = StorableText.Clean(error.Message) };

    private Incoming? Unexpected(RelayEnvelope envelope)
    {
        LogUnexpected(logger, envelope.Type, envelope.RequestId);
        return null;
    }

    private async Task ApplyAsync(List<Incoming> group, CancellationToken cancellationToken)
    {
        var requestId = group[0].Envelope.RequestId;
        using (await gate.EnterAsync(requestId, cancellationToken))
        {
            var kept = streams.TakeStored(requestId);
            var relayRequest = kept ?? await requests.GetAsync(new RelayRequestId(requestId), cancellationToken);
            if (!await ApplyToAsync(relayRequest, group, cancellationToken) && kept is not null)
            {
                // The copy kept here was stale: another process changed the request. Apply to what is stored.
                await ApplyToAsync(await requests.GetAsync(new RelayRequestId(requestId), cancellationToken), group,
                    cancellationToken);
            }
        }
    }

    /// <summary>False when the store refused the change because the request is no longer as read.</summary>
    private async Task<bool> ApplyToAsync(RelayRequest? relayRequest, List<Incoming> group, CancellationToken cancellationToken)
    {
        var first = group[0].Envelope;
        if (relayRequest is null || relayRequest.SessionId.Value != first.SessionId)
        {
            LogUnknownRequest(logger, first.Type, first.RequestId);
            return true;
        }

        var requestId = relayRequest.Id.Value;
        // Every line logged while the host's envelopes are applied (acks, pieces, the answer) names the message's trace.
        using var scope = logger.BeginRequestScope(requestId, relayRequest.TraceParent);
        var read = relayRequest.Status;
        var acked = false;
        List<(int Seq, string Text)>? pieces = null;
        foreach (var (envelope, body, _) in group)
        {
            if (RelayRequest.AttemptOf(envelope.Seq) != relayRequest.Attempts)
            {
                // From a host the request was taken from (it went quiet, then came back): another has it now.
                LogOtherAttempt(logger, envelope.Type, requestId);
                continue;
            }

            switch (body)
            {
                case FinalBody final:
                    // Clients are promised deltas that add up to the answer, followed by the answer: the pieces that
                    // came with the final are published with it, as one unit.
                    return await outcomes.CompleteAsync(relayRequest, final, cancellationToken, read,
                        Deltas(requestId, first.SessionId, pieces));
                case ErrorBody { Code: RelayErrorCodes.Shutdown or RelayErrorCodes.Draining } stopping:
                    // Its host is stopping: another host serving the model answers it instead.
                    return await failures.GoesElsewhereAsync(relayRequest, anyHost: true, cancellationToken)
                        ? await outcomes.RequeueAsync(relayRequest, read, "host stopping", cancellationToken)
                        : await outcomes.FailAsync(relayRequest, stopping, cancellationToken, read,
                            Deltas(requestId, first.SessionId, pieces));
                case ErrorBody { Code: RelayErrorCodes.EngineLost }
                    when relayRequest.Attempts < options.Value.MaxAttempts + options.Value.EngineLostRetries:
                    // Its host's engine died under it and is starting again: asked again, there once it is back or at
                    // another host. Not an attempt used up, unless the engine dies under it every time.
                    return await outcomes.RequeueAsync(relayRequest, read, "its engine stopped", cancellationToken);
                case ErrorBody error:
                    return await outcomes.FailAsync(relayRequest, error, cancellationToken, read,
                        Deltas(requestId, first.SessionId, pieces));
                case PartialBody partial:
                    // Late (after cancel or timeout), repeated or out of order pieces change nothing.
                    var streamed = streams.LastSeqOf(requestId);
                    if ((streamed is null || envelope.Seq > streamed)
                        && relayRequest.ReceivePartial(envelope.Seq, clock.UtcNow))
                    {
                        (pieces ??= []).Add((envelope.Seq, partial.Text));
                    }

                    break;
                default:
                    acked |= relayRequest.Acknowledge(clock.UtcNow);
                    break;
            }
        }

        // What is stored changes with an ack and with the first piece (Dispatched → Streaming); later sequence
        // numbers are kept in memory: a lane keeps one session's envelopes in order and the cipher refuses replays.
        if ((acked || relayRequest.Status != read) && !await requests.TryUpdateAsync(relayRequest, read, cancellationToken))
        {
            return false; // another process changed or ended the request meanwhile
        }

        streams.RememberStored(relayRequest);
        await StreamAsync(requestId, first.SessionId, pieces, cancellationToken);
        return true;
    }

    /// <summary>The pieces that arrived together, published as one unit.</summary>
    private async Task StreamAsync(
        Guid requestId, Guid sessionId, List<(int Seq, string Text)>? pieces, CancellationToken cancellationToken)
    {
        if (Deltas(requestId, sessionId, pieces) is { } deltas)
        {
            await events.PublishAsync(deltas, cancellationToken);
        }
    }

    /// <summary>The pieces added to the request's stream, as the delta events that tell them; null when none came.</summary>
    private ChatEvent[]? Deltas(Guid requestId, Guid sessionId, List<(int Seq, string Text)>? pieces)
    {
        if (pieces is null)
        {
            return null;
        }

        var deltas = new ChatEvent[pieces.Count];
        for (var i = 0; i < deltas.Length; i++)
        {
            var (seq, text) = pieces[i];
            streams.Append(requestId, seq, text);
            deltas[i] = new ChatEvent(ChatEventTypes.Delta, sessionId, requestId, Seq: seq, Text: text);
        }

        return deltas;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Ignored a {Type} envelope for request {RequestId} from an earlier attempt: another host has it now")]
    private static partial void LogOtherAttempt(ILogger logger, EnvelopeType type, Guid requestId);

    private sealed record Incoming(RelayEnvelope Envelope, object? Body, RelayPacket? Packet = null);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Could not apply the envelopes of request {RequestId}; they are taken again when read again")]
    private static partial void LogApplyFailed(ILogger logger, Guid requestId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected a relay envelope ({Reason}) on channel of session {SessionId}")]
    private static partial void LogRejected(ILogger logger, EnvelopeRejection reason, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a {Type} envelope from a worker for request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, EnvelopeType type, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Type} envelope names unknown request {RequestId}")]
    private static partial void LogUnknownRequest(ILogger logger, EnvelopeType type, Guid requestId);

    /// <summary>The model names a heartbeat claims, as far as they are names at all (a handful, each a valid model name).</summary>
    private static IReadOnlyList<string>? ServedModels(HeartbeatBody beat) =>
        beat.Models?.Where(Domain.Common.ModelName.IsValid).Distinct(StringComparer.Ordinal).Take(MaxModelsPerHost).ToList();

    private const int MaxModelsPerHost = 32;

    private static double? Speed(double? tokensPerSecond) =>
        tokensPerSecond is { } speed && double.IsFinite(speed) && speed > 0 ? Math.Min(speed, 1e6) : null;

    /// <summary>What the host says of each model it lists, within bounds: only models it serves, once each.</summary>
    private static IReadOnlyList<ModelCapacity>? ModelDetailsOf(HeartbeatBody beat)
    {
        if (beat.ModelDetails is null || ServedModels(beat) is not { } served)
        {
            return null;
        }

        return beat.ModelDetails.Where(m => m is not null && served.Contains(m.Name, StringComparer.Ordinal))
            .DistinctBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => new ModelCapacity(m.Name,
                m.Slots is { } slots ? Math.Clamp(slots, 1, MaxSlotsPerHost) : null,
                m.ContextSize is { } context ? Math.Clamp(context, 1, 1 << 24) : null,
                Math.Clamp(m.Jobs, 0, MaxSlotsPerHost),
                Speed(m.TokensPerSecond)))
            .ToList();
    }

    private const int MaxSlotsPerHost = 1024;

    /// <summary>The host's name as far as it is one: printable, at most 64 characters.</summary>
    private static string? HostNameOf(HeartbeatBody beat) =>
        beat.HostName is { Length: > 0 } name
            ? new string(name.Where(c => !char.IsControl(c)).Take(64).ToArray()) is { Length: > 0 } clean ? clean : null
            : null;

}

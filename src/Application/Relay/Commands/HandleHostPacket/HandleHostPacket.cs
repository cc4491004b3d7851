using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Packets;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// What a worker sent, in the order it arrived: one packet, or the packets one inbound lane had waiting. Each is
/// decrypted and validated, then applied to its request (or the worker registry). Answers the packets whose handling
/// failed (nothing they carry was stored, none is marked handled): the caller tries them again.
/// </summary>
public sealed record HandleHostPacket(IReadOnlyList<RelayPacket> Packets) : IRequest<IReadOnlyList<RelayPacket>>
{
    public HandleHostPacket(RelayPacket packet)
        : this([packet])
    {
    }
}

/// <summary>
/// Applies a worker's envelopes: heartbeats to the hosts' registry (<see cref="HostHeartbeats"/>), the envelopes of
/// each request, grouped, to that request (<see cref="RequestEnvelopes"/>), under its gate. The request is taken as
/// this process last stored it when it knows it (<see cref="RelayStreamState"/>); if another process changed it
/// since, the conditional write says so and the envelopes are applied again to the stored request.
/// </summary>
public sealed partial class HandleHostPacketHandler(
    HostPacketOpening opening,
    IRelayRequestRepository requests,
    HostHeartbeats heartbeats,
    RequestEnvelopes envelopes,
    RelayRequestGate gate,
    RelayStreamState streams,
    ILogger<HandleHostPacketHandler> logger) : IRequestHandler<HandleHostPacket, IReadOnlyList<RelayPacket>>
{
    public async Task<IReadOnlyList<RelayPacket>> Handle(HandleHostPacket request, CancellationToken cancellationToken)
    {
        // Envelopes grouped by request, each group in arrival order (a lane keeps one session's envelopes in order).
        var groups = new List<List<IncomingEnvelope>>();
        Dictionary<Guid, List<IncomingEnvelope>>? byRequest = null;
        // All opened at once, so their replay checks travel to the shared replay memory together. An envelope is only
        // checked against those handled before, and marked handled once what it carries is stored: an answer whose
        // store failed, or whose process died before storing it, is taken again when it is read again.
        var opened = new ValueTask<RelayEnvelope?>[request.Packets.Count];
        for (var i = 0; i < opened.Length; i++)
        {
            opened[i] = opening.OpenAsync(request.Packets[i], cancellationToken);
        }

        for (var i = 0; i < opened.Length; i++)
        {
            var packet = request.Packets[i];
            if (await opened[i] is not { } envelope || Read(envelope, packet.ChatId) is not { } incoming)
            {
                packet.Delivery?.Handled(); // refused for good (logged and counted): reading it again changes nothing
                continue;
            }

            if (envelope.Type == EnvelopeType.Heartbeat)
            {
                // Before it is noted: a host that can take work now wakes the dispatcher, which must find the way to it.
                packet.Delivery?.HeardFrom(((HeartbeatBody)incoming.Body!).WorkerId);
                await heartbeats.NoteAsync(envelope, (HeartbeatBody)incoming.Body!, packet.Delivery?.CaughtUp == true,
                    cancellationToken);
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
    private async Task HandledAsync(List<IncomingEnvelope> handled, CancellationToken cancellationToken)
    {
        var marking = new ValueTask[handled.Count];
        for (var i = 0; i < marking.Length; i++)
        {
            marking[i] = opening.MarkHandledAsync(handled[i].Envelope, cancellationToken);
        }

        for (var i = 0; i < marking.Length; i++)
        {
            await marking[i];
            handled[i].Packet?.Delivery?.Handled();
        }
    }

    /// <summary>The envelope with its body read; null (logged) when it is malformed or not one a worker sends.</summary>
    private IncomingEnvelope? Read(RelayEnvelope envelope, Guid? channelSessionId)
    {
        try
        {
            return envelope.Type switch
            {
                EnvelopeType.Heartbeat => new IncomingEnvelope(envelope, RelayJson.FromBody<HeartbeatBody>(envelope)),
                EnvelopeType.Ack => new IncomingEnvelope(envelope, RelayJson.FromBody<AckBody>(envelope)),
                // Model output is cleaned here, before it is streamed or stored, so every database stores it alike
                // (PostgreSQL refuses NUL) and every client reads the same text.
                EnvelopeType.Partial => new IncomingEnvelope(envelope, Cleaned(RelayJson.FromBody<PartialBody>(envelope))),
                EnvelopeType.Final => new IncomingEnvelope(envelope, Cleaned(RelayJson.FromBody<FinalBody>(envelope))),
                EnvelopeType.Error => new IncomingEnvelope(envelope, Cleaned(RelayJson.FromBody<ErrorBody>(envelope))),
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

    private IncomingEnvelope? Unexpected(RelayEnvelope envelope)
    {
        LogUnexpected(logger, envelope.Type, envelope.RequestId);
        return null;
    }

    private async Task ApplyAsync(List<IncomingEnvelope> group, CancellationToken cancellationToken)
    {
        var requestId = group[0].Envelope.RequestId;
        using (await gate.EnterAsync(requestId, cancellationToken))
        {
            var relayRequest = streams.TakeStored(requestId)
                               ?? await requests.GetAsync(new RelayRequestId(requestId), cancellationToken);
            if (!await envelopes.ApplyAsync(relayRequest, group, cancellationToken))
            {
                // Another process changed the request since this copy was read (kept here, or read just now: another
                // server bot applying the same pieces first). Apply them to what is stored: what they change is there
                // already or is changed now, and their words still reach this process's followers — dropped, a reply
                // followed here would miss its first words and hold back the rest of the answer as a gap.
                await envelopes.ApplyAsync(await requests.GetAsync(new RelayRequestId(requestId), cancellationToken), group,
                    cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Could not apply the envelopes of request {RequestId}; they are taken again when read again")]
    private static partial void LogApplyFailed(ILogger logger, Guid requestId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected a relay envelope ({Reason}) on channel of session {SessionId}")]
    private static partial void LogRejected(ILogger logger, EnvelopeRejection reason, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a {Type} envelope from a worker for request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, EnvelopeType type, Guid requestId);
}

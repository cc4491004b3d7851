using System.Text.Json;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Inference.Commands;

/// <summary>Something the server sent to this worker: a request to run, or a cancel.</summary>
public sealed record HandleServerPacket(RelayPacket Packet) : IRequest<MediatR.Unit>;

public sealed partial class HandleServerPacketHandler(
    IEnvelopeCipher cipher,
    InferenceJobRunner runner,
    WorkerJobs jobs,
    WorkerRelay relay,
    ILogger<HandleServerPacketHandler> logger) : IRequestHandler<HandleServerPacket, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(HandleServerPacket request, CancellationToken cancellationToken)
    {
        var packet = request.Packet;
        if (await cipher.OpenPacketAsync(packet, RelayDirection.ServerToClient, cancellationToken) is not { } envelope)
        {
            return MediatR.Unit.Value;
        }

        switch (envelope.Type)
        {
            case EnvelopeType.Request:
                await AcceptAsync(envelope, cancellationToken);
                break;
            case EnvelopeType.Cancel:
                jobs.Cancel(envelope.RequestId);
                break;
            default:
                LogUnexpected(logger, envelope.Type, envelope.RequestId);
                break;
        }

        return MediatR.Unit.Value;
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

        if (jobs.Draining)
        {
            await relay.SendAsync(EnvelopeType.Error, envelope.SessionId, envelope.RequestId, 1,
                new ErrorBody("draining", "the model host is shutting down; try again shortly"), cancellationToken);
            return;
        }

        // The runner acknowledges: with the first output when it comes soon, otherwise with a plain ack.
        runner.Start(envelope, body);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected a relay envelope ({Reason}) on channel of session {SessionId}")]
    private static partial void LogRejected(ILogger logger, EnvelopeRejection reason, Guid? sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a {Type} envelope from the server for request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, EnvelopeType type, Guid requestId);
}

using MediatR;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>The handler of hosts' packets, as the hosts build it, and envelopes as a host sends them.</summary>
public abstract class PacketTestBase : RelayHandlerTestBase
{
    protected Guid SendingHost { get; } = Guid.NewGuid();

    protected IRequestHandler<HandleHostPacket, IReadOnlyList<RelayPacket>> Handler =>
        Ports.Relay<IRequestHandler<HandleHostPacket, IReadOnlyList<RelayPacket>>>();

    /// <summary>A request sent <paramref name="attempts"/> times, stored as such.</summary>
    protected RelayRequest DispatchedFor(int attempts, string? model = null)
    {
        var request = Request(RelayRequestStatus.Dispatched);
        for (var attempt = 1; attempt < attempts; attempt++)
        {
            request.Requeue();
            request.Dispatch(Moments.At(attempt), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), SendingHost, model);
        }

        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return request;
    }

    protected static int LastSeqOf(RelayRequest request) => (request.Attempts - 1) * RelayRequest.SeqPerAttempt + 1;

    protected Task Receive<TBody>(EnvelopeType type, RelayRequest request, int seq, TBody body,
        RelayDirection direction = RelayDirection.ClientToServer) =>
        Handler.Handle(new HandleHostPacket(new RelayPacket(request.ChatId.Value, JsonCipher.Seal(
            new RelayEnvelope(type, request.ChatId.Value, request.Id.Value, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(body)), direction))), CancellationToken.None);

    protected static FinalBody Final(string content = "Rayleigh scattering.") => new(content, 12, 4, 800, "stop");

    protected RelayPacket Packet<TBody>(EnvelopeType type, RelayRequest request, int seq, TBody body) =>
        new(request.ChatId.Value, JsonCipher.Seal(new RelayEnvelope(type, request.ChatId.Value, request.Id.Value,
            seq, Ports.Clock.UtcNow, RelayJson.ToBody(body)), RelayDirection.ClientToServer));

    protected sealed class CountedDelivery : RelayDelivery
    {
        public int Count { get; private set; }

        public override void Handled() => Count++;

        /// <summary>The hosts whose heartbeats it carried, as the relay told it.</summary>
        public List<Guid> Heard { get; } = [];

        public override void HeardFrom(Guid workerId) => Heard.Add(workerId);
    }

    protected Task<bool> StoreAnswer(Message answer)
    {
        Ports.AddStoredMessage(answer);
        return Task.FromResult(true);
    }

    /// <summary>A database error as a provider reports it: one that may pass (an outage) or one that will not.</summary>
    protected sealed class FakeDatabaseException(bool transient) : System.Data.Common.DbException("database error")
    {
        public override bool IsTransient => transient;
    }
}

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

/// <summary>The expiry of requests in flight, as the hosts build it.</summary>
public abstract class ExpiryTestBase : RelayHandlerTestBase
{
    // The builder dispatches at T0+1 with a 10 s ack timeout and a 60 s completion timeout.
    protected IRequestHandler<ExpireOverdueRequests, ExpiryPass> Handler =>
        Ports.Relay<IRequestHandler<ExpireOverdueRequests, ExpiryPass>>();

    /// <summary>A request of <paramref name="model"/> sent to <paramref name="host"/> at T0+1 (ack by T0+11), stored as such.</summary>
    protected RelayRequest SentTo(Guid host, string model)
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), host, model);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return request;
    }
}

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

/// <summary>The dispatcher, as the hosts build it, and questions pending for it.</summary>
public abstract class DispatchTestBase : RelayHandlerTestBase
{
    protected IRequestHandler<DispatchPendingRequests, int> Handler =>
        Ports.Relay<IRequestHandler<DispatchPendingRequests, int>>();

    /// <summary>A pending request in a chat of its own (one unfinished request per chat) asking for <paramref name="model"/>.</summary>
    protected RelayRequest Pending(string? model, User? owner = null)
    {
        owner ??= Alice;
        var chat = Ports.Remember(new SessionBuilder().OwnedBy(owner).WithModel(model).Build());
        var question = Ports.Remember(chat.PostUserMessage(owner, PromptText.From("Hello?"), Moments.T0));
        return Ports.Remember(new RelayRequestBuilder().ForSession(chat.Id).ForUser(owner.Id).Asking(question.Id).Build());
    }

    protected void Complete(Guid requestId)
    {
        var request = Ports.Requests.Object.GetAsync(new RelayRequestId(requestId), CancellationToken.None).Result!;
        request.Acknowledge(Ports.Clock.UtcNow);
        request.Complete(MessageId.New(), Ports.Clock.UtcNow);
    }
}

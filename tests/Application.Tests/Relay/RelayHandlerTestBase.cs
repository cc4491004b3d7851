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

/// <summary>The ports, a signed-in user, her chat and her question, for the relay core's tests.</summary>
public abstract class RelayHandlerTestBase
{
    protected TestPorts Ports { get; private set; } = null!;

    protected User Alice { get; private set; } = null!;

    protected Chat Chat { get; private set; } = null!;

    protected Message Question { get; private set; } = null!;

    [SetUp]
    public void SetUpPorts()
    {
        Ports = new TestPorts();
        Alice = Ports.SignIn(new UserBuilder().Named("alice").Build());
        Chat = Ports.Remember(new SessionBuilder().OwnedBy(Alice).Build());
        Question = Ports.Remember(Chat.PostUserMessage(Alice, PromptText.From("Why is the sky blue?"), Moments.T0));
    }

    protected RelayRequest Request(RelayRequestStatus status) => Ports.Remember(new RelayRequestBuilder()
        .ForSession(Chat.Id).ForUser(Alice.Id).Asking(Question.Id).In(status).Build());

    protected RelayRequest AckedRequest() => Ports.Remember(new RelayRequestBuilder()
        .ForSession(Chat.Id).ForUser(Alice.Id).Asking(Question.Id).Acked().Build());

    protected int StoredAnswers => Ports.StoredMessages.Count(m => m.Role == MessageRole.Assistant);
}

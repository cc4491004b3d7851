using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class MappingTests
{
    [Test]
    public void Configuration_IsValid() =>
        Assert.That(TestMapper.Configuration.AssertConfigurationIsValid, Throws.Nothing);

    [Test]
    public void Message_MapsToMessageDto_WithLowerCaseEnumsAndTokens()
    {
        var sessionId = SessionId.New();
        var requestId = RelayRequestId.New();
        var message = Message.Answer(sessionId, requestId, "Hi there", MessageSource.Fallback, new TokenCounts(7, 3),
            Moments.At(4));

        var dto = TestMapper.Instance.Map<MessageDto>(message);

        Assert.That(dto, Is.EqualTo(new MessageDto(message.Id.Value, sessionId.Value, "assistant", "Hi there", "fallback",
            Moments.At(4), new TokensDto(7, 3, 10), requestId.Value)));
    }

    [Test]
    public void UserMessage_MapsWithoutTokensOrRequest()
    {
        var owner = new UserBuilder().Build();
        var message = new SessionBuilder().OwnedBy(owner).Build().PostUserMessage(owner, PromptText.From("Q"), Moments.T0);

        var dto = TestMapper.Instance.Map<MessageDto>(message);

        Assert.That(dto.Role, Is.EqualTo("user"));
        Assert.That(dto.Source, Is.EqualTo("user"));
        Assert.That(dto.Tokens, Is.Null);
        Assert.That(dto.RequestId, Is.Null);
    }

    [Test]
    public void ChatSession_MapsToSessionDto_WithLowerCaseStatusAndSampling()
    {
        var session = new SessionBuilder().Titled("Plans").WithModel("llama:q4").WithSystemPrompt("Be kind.")
            .WithSampling(SamplingParameters.Create(0.5, 0.9, 128)).Closed().Build();

        var dto = TestMapper.Instance.Map<SessionDto>(session);

        Assert.That(dto, Is.EqualTo(new SessionDto(session.Id.Value, "Plans", "closed", "llama:q4", "Be kind.", 0.5, 0.9,
            128, Moments.T0, Moments.T0, Moments.T0)));
    }

    [Test]
    public void ChatSession_WithoutModelOrPrompt_MapsThemToNull()
    {
        var dto = TestMapper.Instance.Map<SessionDto>(new SessionBuilder().Build());

        Assert.That(dto.Status, Is.EqualTo("active"));
        Assert.That(dto.Model, Is.Null);
        Assert.That(dto.SystemPrompt, Is.Null);
        Assert.That(dto.Temperature, Is.Null);
    }

    [Test]
    public void User_MapsToUserDto_WithLowerCaseRole()
    {
        var user = new UserBuilder().Named("root").Admin().Build();

        Assert.That(TestMapper.Instance.Map<UserDto>(user), Is.EqualTo(new UserDto(user.Id.Value, "root", "admin")));
    }
}

using MeatLizard.Application.Channels;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChannelModelChoiceTests
{
    [TestCase("conv", "member", "channel", ExpectedResult = "conv")]
    [TestCase(null, "member", "channel", ExpectedResult = "member")]
    [TestCase(null, null, "channel", ExpectedResult = "channel")]
    [TestCase(null, "  ", "channel", ExpectedResult = "channel")]
    [TestCase(null, null, null, ExpectedResult = null)]
    public string? Pick_FollowsConversationThenMemberThenChannelThenDefault(
        string? conversation, string? member, string? channel) =>
        ChannelModelChoice.Pick(conversation, member, channel);
}

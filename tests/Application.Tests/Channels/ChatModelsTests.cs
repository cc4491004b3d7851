using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChatModelsTests
{
    [TestCase("conv", "member", "user", "channel", ExpectedResult = "conv")]
    [TestCase(null, "member", "user", "channel", ExpectedResult = "member")]
    [TestCase(null, null, "user", "channel", ExpectedResult = "user")]
    [TestCase(null, null, " ", "channel", ExpectedResult = "channel")]
    [TestCase(null, null, null, "channel", ExpectedResult = "channel")]
    [TestCase(null, "  ", null, "channel", ExpectedResult = "channel")]
    [TestCase(null, null, null, null, ExpectedResult = null)]
    public string? ANewChatsModel_FollowsTheAskedThenMemberThenUserThenChannelThenDefault(
        string? conversation, string? member, string? user, string? channel) =>
        ChatModels.ForNewChat(conversation, member, user, channel);
}

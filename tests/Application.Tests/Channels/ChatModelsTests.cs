using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChatModelsTests
{
    [TestCase("conv", "member", "channel", ExpectedResult = "conv")]
    [TestCase(null, "member", "channel", ExpectedResult = "member")]
    [TestCase(null, null, "channel", ExpectedResult = "channel")]
    [TestCase(null, "  ", "channel", ExpectedResult = "channel")]
    [TestCase(null, null, null, ExpectedResult = null)]
    public string? ANewChatsModel_FollowsTheAskedThenMemberThenChannelThenDefault(
        string? conversation, string? member, string? channel) =>
        ChatModels.ForNewChat(conversation, member, channel);
}

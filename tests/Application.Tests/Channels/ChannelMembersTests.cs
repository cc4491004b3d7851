using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChannelMembersTests
{
    private static readonly ChannelMember Alice = new("discord", "1447000000000000123", "Alice");

    private TestPorts _ports = null!;
    private Mock<IChannelIdentityStore> _identities = null!;

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _identities = new Mock<IChannelIdentityStore>();
        _identities.Setup(i => i.TryAddAsync(It.IsAny<ChannelIdentity>(), It.IsAny<CancellationToken>())).ReturnsAsync(true);
    }

    private ChannelMembers Members => new(_identities.Object, _ports.Users.Object, _ports.UnitOfWork.Object, _ports.Clock);

    [Test]
    public async Task AMemberSeenForTheFirstTime_BecomesAUserNamedAfterTheirNetworkId_WithNoPassword()
    {
        var (user, identity) = await Members.ResolveAsync(Alice, CancellationToken.None);

        Assert.That(user.Username.Value, Is.EqualTo("discord:1447000000000000123"));
        Assert.That(user.PasswordHash, Is.EqualTo(User.NoPassword));
        Assert.That(identity, Is.EqualTo(new ChannelIdentity("discord", Alice.Id, user.Id, null)));
        _ports.Users.Verify(u => u.AddAsync(user, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task AKnownMember_IsTheirStoredUser_AndNothingIsAdded()
    {
        var known = User.JoinFromChannel(Username.ForChannelMember("discord", Alice.Id), _ports.Clock.UtcNow);
        _ports.Users.Setup(u => u.GetAsync(known.Id, It.IsAny<CancellationToken>())).ReturnsAsync(known);
        _identities.Setup(i => i.FindAsync("discord", Alice.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync(new ChannelIdentity("discord", Alice.Id, known.Id, "tiny"));

        var (user, identity) = await Members.ResolveAsync(Alice, CancellationToken.None);

        Assert.That(user, Is.SameAs(known));
        Assert.That(identity.PreferredModel, Is.EqualTo("tiny"));
        _ports.Users.Verify(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task AMemberMadeByAnotherProcessMeanwhile_IsReadBack()
    {
        var other = User.JoinFromChannel(Username.ForChannelMember("discord", Alice.Id), _ports.Clock.UtcNow);
        _ports.Users.Setup(u => u.GetAsync(other.Id, It.IsAny<CancellationToken>())).ReturnsAsync(other);
        _identities.SetupSequence(i => i.FindAsync("discord", Alice.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync((ChannelIdentity?)null)
            .ReturnsAsync(new ChannelIdentity("discord", Alice.Id, other.Id, null));
        _ports.Users.Setup(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("unique username"));

        var (user, _) = await Members.ResolveAsync(Alice, CancellationToken.None);

        Assert.That(user.Id, Is.EqualTo(other.Id));
    }

    [TestCase("discord:123", ExpectedResult = false)]
    [TestCase("alice", ExpectedResult = true)]
    public bool APersonChoosingAName_CannotTakeAMembersName(string name) => Username.IsValid(name);
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Auth;

public class RegisterUserHandlerTests
{
    private TestPorts _ports = null!;
    private Mock<IPasswordHasher> _hasher = null!;
    private Mock<IInviteRepository> _invites = null!;
    private AuthOptions _options = null!;

    private RegisterUserHandler Handler => new(_ports.Users.Object, _invites.Object,
        new SignUpFactsReader(_ports.Users.Object, _invites.Object, _ports.RuntimeSettings.Object,
            Microsoft.Extensions.Options.Options.Create(_options)),
        _hasher.Object, _ports.Clock, _ports.UnitOfWork.Object);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _hasher = new Mock<IPasswordHasher>();
        _hasher.Setup(h => h.Hash(It.IsAny<string>())).Returns((string p) => $"hash:{p}");
        _invites = new Mock<IInviteRepository>();
        _options = new AuthOptions();
        // A platform with its admin, unless a test says otherwise.
        _ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(1);
    }

    [Test]
    public async Task Register_WhileThereIsNoAdmin_WithoutTheSetupToken_MakesAnOrdinaryAccount()
    {
        _ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(0);

        var dto = await Handler.Handle(new RegisterUser("alice", "correct horse"), CancellationToken.None);

        Assert.That(dto.Role, Is.EqualTo("user"), "only the setup link makes the first admin");
        _ports.Users.Verify(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Register_WithTheSetupTokenWhileThereIsNoAdmin_MakesTheFirstAdmin_AndSpendsTheToken()
    {
        _ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(0);
        var setup = Invite.ForSetup(RegistrationCodes.Hash("the-token"), _ports.Clock.UtcNow);
        _invites.Setup(i => i.GetByCodeHashAsync(RegistrationCodes.Hash("the-token"), It.IsAny<CancellationToken>()))
            .ReturnsAsync(setup);
        _invites.Setup(i => i.TryMarkUsedAsync(setup, It.IsAny<CancellationToken>())).ReturnsAsync(true);

        var dto = await Handler.Handle(new RegisterUser("root", "correct horse", SetupToken: "the-token"), CancellationToken.None);

        Assert.That(dto.Role, Is.EqualTo("admin"));
        Assert.That(setup.IsUsed, Is.True);
        _invites.Verify(i => i.TryMarkUsedAsync(setup, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Register_UnderApproval_StoresAnAccountThatWaits_AndCannotSignInYet()
    {
        _ports.RuntimeSettings.Setup(s => s.GetAsync("auth.registration", It.IsAny<CancellationToken>()))
            .ReturnsAsync("approval");
        User? stored = null;
        _ports.Users.Setup(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()))
            .Callback((User u, CancellationToken _) => stored = u);

        var dto = await Handler.Handle(new RegisterUser("bob", "correct horse"), CancellationToken.None);

        Assert.That(dto.AwaitingApproval, Is.True);
        Assert.That(stored!.Status, Is.EqualTo(UserStatus.AwaitingApproval));
        Assert.That(stored.AcceptsSignIn(stored.SecurityStamp, null), Is.False);
    }

    [Test]
    public void Register_InviteOnly_WithAnInviteSomeoneUsedAMomentAgo_IsForbiddenOnInviteCode()
    {
        _options.Registration = RegistrationPolicy.InviteOnly;
        var invite = Invite.Create(RegistrationCodes.Hash("code"), "user:1 (alice)", _ports.Clock.UtcNow, TimeSpan.FromDays(1));
        _invites.Setup(i => i.GetByCodeHashAsync(RegistrationCodes.Hash("code"), It.IsAny<CancellationToken>()))
            .ReturnsAsync(invite);
        // Read unused, but another registration with the same code stored first.
        _invites.Setup(i => i.TryMarkUsedAsync(invite, It.IsAny<CancellationToken>())).ReturnsAsync(false);

        Assert.That(async () => await Handler.Handle(new RegisterUser("carol", "correct horse", InviteCode: "code"),
                CancellationToken.None),
            Throws.InstanceOf<DomainException>().With.Property(nameof(DomainException.Field)).EqualTo("inviteCode"));
        Assert.That(_ports.Journal, Does.Contain("rollback"));
    }

    [Test]
    public async Task Register_NewUsername_StoresAnActiveUserWithTheHashedPassword()
    {
        User? stored = null;
        _ports.Users.Setup(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()))
            .Callback((User u, CancellationToken _) => stored = u);

        var dto = await Handler.Handle(new RegisterUser("alice", "correct horse"), CancellationToken.None);

        Assert.That(stored, Is.Not.Null);
        Assert.That(stored!.PasswordHash, Is.EqualTo("hash:correct horse"));
        Assert.That(stored.Status, Is.EqualTo(UserStatus.Active));
        Assert.That(dto.Id, Is.EqualTo(stored.Id.Value));
        Assert.That(dto.Username, Is.EqualTo("alice"));
        Assert.That(dto.Role, Is.EqualTo("user"));
    }

    [Test]
    public void Register_TakenUsername_IsConflictOnFieldUsername_AndStoresNothing()
    {
        _ports.Remember(new UserBuilder().Named("alice").Build());

        Assert.That(async () => await Handler.Handle(new RegisterUser("alice", "correct horse"), CancellationToken.None),
            Throws.TypeOf<ConflictException>().With.Property(nameof(ConflictException.Field)).EqualTo("username"));
        _ports.Users.Verify(u => u.AddAsync(It.IsAny<User>(), It.IsAny<CancellationToken>()), Times.Never);
    }
}

public class LogInHandlerTests
{
    private TestPorts _ports = null!;
    private Mock<IPasswordHasher> _hasher = null!;

    private LogInHandler Handler =>
        new(_ports.Users.Object, _hasher.Object, _ports.RateLimiter.Object, _ports.CurrentUser.Object,
            _ports.PlatformMetrics);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _hasher = new Mock<IPasswordHasher>();
        _hasher.Setup(h => h.Hash(It.IsAny<string>())).Returns("decoy-hash");
        _hasher.Setup(h => h.Verify(It.IsAny<string>(), It.IsAny<string>()))
            .Returns((string hash, string password) => hash == $"hash:{password}");
    }

    [Test]
    public void LogIn_AccountAwaitingApproval_RightPassword_IsForbiddenAndSaysItWaitsForAnAdmin()
    {
        var waiting = User.Register(Username.From("bob"), "hash:pw", Moments.T0, awaitsApproval: true);
        _ports.Remember(waiting);

        Assert.That(async () => await Handler.Handle(new LogIn("bob", "pw"), CancellationToken.None),
            Throws.InstanceOf<DomainException>().With.Message.Contains("waiting for an admin's approval")
                .And.Property(nameof(DomainException.Kind)).EqualTo(DomainErrorKind.Forbidden));
    }

    [Test]
    public async Task LogIn_RightPassword_ReturnsTheUser()
    {
        var user = _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Build());

        var dto = await Handler.Handle(new LogIn("alice", "pw"), CancellationToken.None);

        Assert.That(dto.Id, Is.EqualTo(user.Id.Value));
    }

    [Test]
    public void LogIn_UnknownUserAndWrongPassword_FailWithTheSameMessage()
    {
        _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Build());

        var unknown = Assert.ThrowsAsync<UnauthenticatedException>(() =>
            Handler.Handle(new LogIn("nobody", "pw"), CancellationToken.None));
        var wrong = Assert.ThrowsAsync<UnauthenticatedException>(() =>
            Handler.Handle(new LogIn("alice", "nope"), CancellationToken.None));

        Assert.That(unknown!.Message, Is.EqualTo(wrong!.Message));
    }

    [Test]
    public void LogIn_UnknownUser_StillVerifiesAPassword_SoTimingRevealsNothing()
    {
        Assert.ThrowsAsync<UnauthenticatedException>(() => Handler.Handle(new LogIn("nobody", "pw"), CancellationToken.None));

        _hasher.Verify(h => h.Verify(It.IsAny<string>(), "pw"), Times.Once);
    }

    [Test]
    public void LogIn_OverlongUsername_IsRejectedLikeAnUnknownOne_WithoutALookup()
    {
        Assert.ThrowsAsync<UnauthenticatedException>(() =>
            Handler.Handle(new LogIn(new string('a', 200), "pw"), CancellationToken.None));

        _ports.Users.Verify(u => u.GetByUsernameAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public void LogIn_BannedUserWithRightPassword_IsForbidden()
    {
        _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Banned().Build());

        Assert.That(async () => await Handler.Handle(new LogIn("alice", "pw"), CancellationToken.None),
            Refused.As(DomainErrorKind.Forbidden));
    }

    [TestCase(RateLimitScope.LogIn)]
    [TestCase(RateLimitScope.LogInFailure)]
    [TestCase(RateLimitScope.LogInSustainedFailure)]
    public void LogIn_WhenThrottled_IsRefusedBeforeThePasswordIsHashed(RateLimitScope refusing)
    {
        _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Build());
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.5");
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(refusing, It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new RateLimitDecision(false, TimeSpan.FromSeconds(7)));

        Assert.That(async () => await Handler.Handle(new LogIn("alice", "pw"), CancellationToken.None),
            Throws.TypeOf<RateLimitedException>().With.Property(nameof(RateLimitedException.RetryAfter)).EqualTo(TimeSpan.FromSeconds(7)));
        _hasher.Verify(h => h.Verify(It.IsAny<string>(), It.IsAny<string>()), Times.Never);
        _hasher.Verify(h => h.Hash(It.IsAny<string>()), Times.Never);
    }

    [Test]
    public async Task LogIn_Success_GivesBackTheFailureTokens_ButNotTheAttemptToken()
    {
        _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Build());
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.5");

        await Handler.Handle(new LogIn("alice", "pw"), CancellationToken.None);
        Assert.ThrowsAsync<UnauthenticatedException>(() => Handler.Handle(new LogIn("alice", "wrong"), CancellationToken.None));

        _ports.RateLimiter.Verify(r => r.GiveBackAsync(RateLimitScope.LogInFailure, It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        _ports.RateLimiter.Verify(r => r.GiveBackAsync(RateLimitScope.LogInSustainedFailure, It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        _ports.RateLimiter.Verify(r => r.GiveBackAsync(RateLimitScope.LogIn, It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public void LogIn_BannedUserWithWrongPassword_LearnsNothingAboutTheBan() =>
        Assert.That(async () =>
        {
            _ports.Remember(new UserBuilder().Named("alice").WithPasswordHash("hash:pw").Banned().Build());
            await Handler.Handle(new LogIn("alice", "wrong"), CancellationToken.None);
        }, Throws.TypeOf<UnauthenticatedException>());
}

public class AuthenticateApiKeyHandlerTests
{
    [Test]
    public async Task ABadKeyPresentedAgain_CostsNoDatabaseRead_WithinTheMinute()
    {
        var keys = new Mock<IApiKeyRepository>();
        keys.Setup(k => k.GetByPrefixAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).ReturnsAsync((ApiKey?)null);
        var clock = new FakeClock();
        var handler = new AuthenticateApiKeyHandler(keys.Object, new Mock<IUserRepository>().Object, clock,
            new RefusedApiKeys());
        var (bad, _) = ApiKeyFormat.Generate();
        var (other, _) = ApiKeyFormat.Generate();

        for (var i = 0; i < 5; i++)
        {
            Assert.That(await handler.Handle(new AuthenticateApiKey(bad), CancellationToken.None), Is.Null);
        }

        Assert.That(await handler.Handle(new AuthenticateApiKey(other), CancellationToken.None), Is.Null);
        keys.Verify(k => k.GetByPrefixAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Exactly(2),
            "one read for each bad key, not one per request");

        clock.UtcNow += RefusedApiKeys.For;
        await handler.Handle(new AuthenticateApiKey(bad), CancellationToken.None);
        keys.Verify(k => k.GetByPrefixAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Exactly(3),
            "remembered for a minute only");
    }
}

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

    private RegisterUserHandler Handler => new(_ports.Users.Object, _hasher.Object, _ports.Clock);

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _hasher = new Mock<IPasswordHasher>();
        _hasher.Setup(h => h.Hash(It.IsAny<string>())).Returns((string p) => $"hash:{p}");
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

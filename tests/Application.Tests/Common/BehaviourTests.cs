using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public sealed record Ping(string? Text) : IRequest<string>;

public sealed record LongPing : IRequest<string>, ILongRunningRequest;

public class ValidationBehaviourTests
{
    private sealed class PingNeedsText : AbstractValidator<Ping>
    {
        public PingNeedsText() => RuleFor(p => p.Text).NotEmpty().OverridePropertyName("text");
    }

    private sealed class PingIsShort : AbstractValidator<Ping>
    {
        public PingIsShort() => RuleFor(p => p.Text).MaximumLength(3).OverridePropertyName("text");
    }

    [Test]
    public void Handle_WhenAValidatorFails_ThrowsValidationException_AndDoesNotCallNext()
    {
        var behaviour = new ValidationBehaviour<Ping, string>([new PingNeedsText()]);
        var nextCalled = false;

        Assert.That(async () => await behaviour.Handle(new Ping(""), CancellationToken.None, () =>
        {
            nextCalled = true;
            return Task.FromResult("pong");
        }), Throws.TypeOf<ValidationException>()
            .With.Property(nameof(ValidationException.Errors)).Exactly(1).Items);
        Assert.That(nextCalled, Is.False);
    }

    [Test]
    public void Handle_CollectsTheFailuresOfEveryValidator()
    {
        var behaviour = new ValidationBehaviour<Ping, string>([new PingNeedsText(), new PingIsShort()]);
        var failingBoth = new ValidationBehaviour<Ping, string>([new PingIsShort(), new PingIsShort()]);

        var ex = Assert.ThrowsAsync<ValidationException>(() =>
            failingBoth.Handle(new Ping("too long"), CancellationToken.None, () => Task.FromResult("pong")));

        Assert.That(ex!.Errors.Count(), Is.EqualTo(2));
        Assert.That(async () => await behaviour.Handle(new Ping("abc"), CancellationToken.None,
            () => Task.FromResult("pong")), Is.EqualTo("pong"));
    }

    [Test]
    public async Task Handle_WhenValid_CallsNext()
    {
        var behaviour = new ValidationBehaviour<Ping, string>([new PingNeedsText()]);

        Assert.That(await behaviour.Handle(new Ping("hi"), CancellationToken.None, () => Task.FromResult("pong")),
            Is.EqualTo("pong"));
    }

    [Test]
    public async Task Handle_WithoutValidators_CallsNext()
    {
        var behaviour = new ValidationBehaviour<Ping, string>([]);

        Assert.That(await behaviour.Handle(new Ping(null), CancellationToken.None, () => Task.FromResult("pong")),
            Is.EqualTo("pong"));
    }
}

public class UnhandledExceptionBehaviourTests
{
    private static readonly MeatLizard.Application.Common.PlatformMetrics Metrics =
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    private static IEnumerable<TestCaseData> ExpectedFailures()
    {
        yield return new TestCaseData(new ValidationException([new ValidationFailure("text", "required")]))
            .SetArgDisplayNames("validation");
        yield return new TestCaseData(new DomainException("closed")).SetArgDisplayNames("domain");
        yield return new TestCaseData(NotFoundException.Chat()).SetArgDisplayNames("not found");
        yield return new TestCaseData(new ConflictException("taken", "username")).SetArgDisplayNames("conflict");
        yield return new TestCaseData(new UnauthenticatedException("who?")).SetArgDisplayNames("unauthenticated");
        yield return new TestCaseData(new RateLimitedException(TimeSpan.FromSeconds(3), "user"))
            .SetArgDisplayNames("rate limited");
    }

    [Test]
    public void Handle_UnexpectedException_IsLoggedAsError_AndRethrown()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);
        var boom = new InvalidOperationException("boom");

        var thrown = Assert.ThrowsAsync<InvalidOperationException>(() =>
            behaviour.Handle(new Ping("secret prompt"), CancellationToken.None, () => throw boom));

        Assert.That(thrown, Is.SameAs(boom));
        var entry = logger.Entries.Single();
        Assert.That(entry.Level, Is.EqualTo(LogLevel.Error));
        Assert.That(entry.Exception, Is.SameAs(boom));
        Assert.That(entry.Message, Does.Contain(nameof(Ping)).And.Not.Contain("secret prompt"));
    }

    [Test]
    public void Handle_AFaultWhoseDataIsReadOnly_IsRethrownAsItself_AndMarkedLogged()
    {
        // The runtime's preallocated out-of-memory exception has read-only Data: marking it there threw
        // NotSupportedException in its place.
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);
        var sealedFault = new ReadOnlyDataException();

        var thrown = Assert.CatchAsync(() => behaviour.Handle(new Ping("x"), CancellationToken.None, () => throw sealedFault));

        Assert.Multiple(() =>
        {
            Assert.That(thrown, Is.SameAs(sealedFault));
            Assert.That(logger.Entries.Single().Exception, Is.SameAs(sealedFault));
            Assert.That(LoggedFaults.Contains(sealedFault), Is.True, "the edge does not log it again");
            Assert.That(LoggedFaults.Contains(new InvalidOperationException("other")), Is.False);
        });
    }

    private sealed class ReadOnlyDataException() : Exception("out of memory")
    {
        public override System.Collections.IDictionary Data { get; } =
            System.Collections.ObjectModel.ReadOnlyDictionary<object, object>.Empty;
    }

    [TestCaseSource(nameof(ExpectedFailures))]
    public void Handle_ExpectedException_IsRethrownWithoutLogging(Exception expected)
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);

        var thrown = Assert.CatchAsync(() => behaviour.Handle(new Ping("x"), CancellationToken.None, () => throw expected));

        Assert.That(thrown, Is.SameAs(expected));
        Assert.That(logger.Entries, Is.Empty);
    }

    [Test]
    public void Handle_ADatabaseOutage_IsAWarningOnceAMinute_WithoutAStackTrace_AndRethrown()
    {
        // PostgreSQL restarting (57P01): the caller is answered 503 with Retry-After and sends again; an outage the
        // product handles is no error line per request.
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics, new UnavailableLog());
        var restarting = new OutageException("57P01");

        for (var i = 0; i < 3; i++)
        {
            var thrown = Assert.CatchAsync(() => behaviour.Handle(new Ping("secret prompt"), CancellationToken.None,
                () => throw restarting));
            Assert.That(thrown, Is.SameAs(restarting));
        }

        var entry = logger.Entries.Single();
        Assert.Multiple(() =>
        {
            Assert.That(entry.Level, Is.EqualTo(LogLevel.Warning));
            Assert.That(entry.Exception, Is.Null, "no stack trace");
            Assert.That(entry.Message, Does.Contain(nameof(Ping)).And.Contain("57P01").And.Not.Contain("secret prompt"));
        });
    }

    private sealed class OutageException(string state) : System.Data.Common.DbException("terminating connection")
    {
        public override string SqlState => state;
    }

    [Test]
    public void Handle_CancellationTheCallerAskedFor_IsNotLogged()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.CatchAsync<OperationCanceledException>(() =>
            behaviour.Handle(new Ping("x"), cts.Token, () => throw new OperationCanceledException(cts.Token)));
        Assert.That(logger.Entries, Is.Empty);
    }

    [Test]
    public void Handle_CancellationNobodyAskedFor_IsLogged()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);

        Assert.CatchAsync<OperationCanceledException>(() =>
            behaviour.Handle(new Ping("x"), CancellationToken.None, () => throw new TaskCanceledException()));
        Assert.That(logger.Entries.Select(e => e.Level), Is.EqualTo(new[] { LogLevel.Error }));
    }

    [Test]
    public async Task Handle_Success_LogsNothing()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new UnhandledExceptionBehaviour<Ping, string>(logger, Metrics);

        Assert.That(await behaviour.Handle(new Ping("x"), CancellationToken.None, () => Task.FromResult("pong")),
            Is.EqualTo("pong"));
        Assert.That(logger.Entries, Is.Empty);
    }
}

public class PerformanceBehaviourTests
{
    private static async Task<string> SlowNext()
    {
        await Task.Delay(600);
        return "pong";
    }

    [Test]
    public async Task Handle_Over500Ms_LogsAWarningNamingTheRequest()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new PerformanceBehaviour<Ping, string>(logger);

        var response = await behaviour.Handle(new Ping("secret prompt"), CancellationToken.None, SlowNext);

        Assert.That(response, Is.EqualTo("pong"));
        var entry = logger.Entries.Single();
        Assert.That(entry.Level, Is.EqualTo(LogLevel.Warning));
        Assert.That(entry.Message, Does.Contain(nameof(Ping)).And.Not.Contain("secret prompt"));
    }

    [Test]
    public async Task Handle_Fast_LogsNothing()
    {
        var logger = new ListLogger<Ping>();
        var behaviour = new PerformanceBehaviour<Ping, string>(logger);

        await behaviour.Handle(new Ping("x"), CancellationToken.None, () => Task.FromResult("pong"));

        Assert.That(logger.Entries, Is.Empty);
    }

    [Test]
    public async Task Handle_SlowLongRunningRequest_LogsNothing()
    {
        var logger = new ListLogger<LongPing>();
        var behaviour = new PerformanceBehaviour<LongPing, string>(logger);

        await behaviour.Handle(new LongPing(), CancellationToken.None, SlowNext);

        Assert.That(logger.Entries, Is.Empty);
    }

    [Test]
    public void Threshold_IsHalfASecond() =>
        Assert.That(PerformanceBehaviour<Ping, string>.Threshold, Is.EqualTo(TimeSpan.FromMilliseconds(500)));
}

public sealed record CostlyPing(MeatLizard.Application.Abstractions.RateLimitScope RateLimitScope)
    : IRequest<string>, IRateLimitedRequest
{
    public IReadOnlyList<MeatLizard.Application.Abstractions.RateLimitScope> LimitedBy => [RateLimitScope];
}

/// <summary>Limited by no bucket (as an admin command that changes nothing is).</summary>
public sealed record UnmeteredPing : IRequest<string>, IRateLimitedRequest
{
    public IReadOnlyList<MeatLizard.Application.Abstractions.RateLimitScope> LimitedBy => [];
}

public class RateLimitBehaviourTests
{
    private TestPorts _ports = null!;

    [SetUp]
    public void SetUp() => _ports = new TestPorts();

    [TestCase(MeatLizard.Application.Abstractions.RateLimitScope.Register, "203.0.113.5")]
    [TestCase(MeatLizard.Application.Abstractions.RateLimitScope.ChatCreation, "user")]
    public void LimitedRequest_WhenTheBucketIsEmpty_IsRefusedBeforeTheHandler(
        MeatLizard.Application.Abstractions.RateLimitScope scope, string keyedBy)
    {
        var user = new UserId(Guid.NewGuid());
        _ports.CurrentUser.Setup(c => c.Id).Returns(user);
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.5");
        var expectedKey = keyedBy == "user" ? user.ToString() : keyedBy;
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(scope, expectedKey, It.IsAny<CancellationToken>()))
            .ReturnsAsync(new MeatLizard.Application.Abstractions.RateLimitDecision(false, TimeSpan.FromSeconds(3)));
        var handled = false;

        Assert.That(async () => await Behaviour<CostlyPing>().Handle(new CostlyPing(scope), CancellationToken.None, () =>
        {
            handled = true;
            return Task.FromResult("pong");
        }), Throws.TypeOf<RateLimitedException>());
        Assert.That(handled, Is.False);
    }

    [Test]
    public void SendRegenerateAndEdit_CostTheSame_AndOnlyWhenTheySucceed()
    {
        IRateLimitedRequest[] modelWork =
        [
            new SendMessage(Guid.NewGuid(), "hi"), new RegenerateAnswer(Guid.NewGuid()),
            new EditMessage(Guid.NewGuid(), null, "hi"),
        ];

        Assert.That(modelWork.Select(r => r.LimitedBy), Has.All.EqualTo(new[]
        {
            MeatLizard.Application.Abstractions.RateLimitScope.Ip, MeatLizard.Application.Abstractions.RateLimitScope.User,
            MeatLizard.Application.Abstractions.RateLimitScope.Guild,
        }));
        Assert.That(modelWork.Select(r => r.OnlySuccessCounts), Has.All.True);
    }

    [Test]
    public void ModelWork_FromAGuildWhoseBucketIsEmpty_IsRefusedNamingTheGuild_AndGivesTheUsersTokenBack()
    {
        var user = SignedIn();
        _ports.CurrentUser.Setup(c => c.GroupId).Returns("discord:1447000000000000001");
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(MeatLizard.Application.Abstractions.RateLimitScope.Guild,
                "discord:1447000000000000001", It.IsAny<CancellationToken>()))
            .ReturnsAsync(new MeatLizard.Application.Abstractions.RateLimitDecision(false, TimeSpan.FromSeconds(5)));

        Assert.That(async () => await Behaviour<SendMessage>().Handle(new SendMessage(Guid.NewGuid(), "hi"),
                CancellationToken.None, () => throw new AssertionException("the handler must not run")),
            Throws.TypeOf<RateLimitedException>().With.Property(nameof(RateLimitedException.Scope)).EqualTo("guild"));

        VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope.User, user.ToString(), 1);
    }

    [Test]
    public async Task ModelWork_OutsideAnyGuild_NeverTouchesAGuildBucket()
    {
        SignedIn();

        await Behaviour<SendMessage>().Handle(new SendMessage(Guid.NewGuid(), "hi"), CancellationToken.None,
            () => Task.FromResult("queued"));

        _ports.RateLimiter.Verify(r => r.TryAcquireAsync(MeatLizard.Application.Abstractions.RateLimitScope.Guild,
            It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public void ModelWork_RefusedByItsHandler_GivesBackEveryTokenItTook()
    {
        var user = SignedIn();

        Assert.That(async () => await Behaviour<RegenerateAnswer>().Handle(new RegenerateAnswer(Guid.NewGuid()),
            CancellationToken.None, () => throw new ConflictException("busy")), Throws.TypeOf<ConflictException>());

        VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope.Ip, "203.0.113.5", 1);
        VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope.User, user.ToString(), 1);
    }

    [Test]
    public void ModelWork_RefusedByTheUsersBucket_GivesBackTheAddressToken_AndNeverRunsTheHandler()
    {
        var user = SignedIn();
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(MeatLizard.Application.Abstractions.RateLimitScope.User,
                user.ToString(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new MeatLizard.Application.Abstractions.RateLimitDecision(false, TimeSpan.FromSeconds(4)));

        Assert.That(async () => await Behaviour<EditMessage>().Handle(new EditMessage(Guid.NewGuid(), null, "hi"),
                CancellationToken.None, () => throw new AssertionException("the handler must not run")),
            Throws.TypeOf<RateLimitedException>().With.Property(nameof(RateLimitedException.Scope)).EqualTo("user"));

        VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope.Ip, "203.0.113.5", 1);
        VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope.User, user.ToString(), 0);
    }

    [Test]
    public async Task ModelWork_ThatSucceeds_KeepsItsTokens()
    {
        SignedIn();

        await Behaviour<SendMessage>().Handle(new SendMessage(Guid.NewGuid(), "hi"), CancellationToken.None,
            () => Task.FromResult("queued"));

        _ports.RateLimiter.Verify(r => r.GiveBackAsync(It.IsAny<MeatLizard.Application.Abstractions.RateLimitScope>(),
            It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public void ARequestWhereTryingIsWhatCosts_KeepsItsTokenWhenRefused()
    {
        SignedIn();

        Assert.That(async () => await Behaviour<CostlyPing>().Handle(
                new CostlyPing(MeatLizard.Application.Abstractions.RateLimitScope.Register), CancellationToken.None,
                () => throw new ConflictException("taken")), Throws.TypeOf<ConflictException>());

        _ports.RateLimiter.Verify(r => r.GiveBackAsync(It.IsAny<MeatLizard.Application.Abstractions.RateLimitScope>(),
            It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    private UserId SignedIn()
    {
        var user = new UserId(Guid.NewGuid());
        _ports.CurrentUser.Setup(c => c.Id).Returns(user);
        _ports.CurrentUser.Setup(c => c.ClientIp).Returns("203.0.113.5");
        return user;
    }

    private void VerifyGivenBack(MeatLizard.Application.Abstractions.RateLimitScope scope, string key, int times) =>
        _ports.RateLimiter.Verify(r => r.GiveBackAsync(scope, key, It.IsAny<CancellationToken>()), Times.Exactly(times));

    // A request that is not limited at all never meets the behaviour: the container does not build it for one
    // (DependencyInjectionTests.Behaviours_TheAuditAndTheRateLimits_AreBuiltOnlyForTheRequestsTheyActOn).
    [Test]
    public async Task ALimitedRequestWithNoBuckets_NeverTouchesTheLimiter()
    {
        var answer = await Behaviour<UnmeteredPing>().Handle(new UnmeteredPing(), CancellationToken.None, () => Task.FromResult("pong"));

        Assert.That(answer, Is.EqualTo("pong"));
        _ports.RateLimiter.VerifyNoOtherCalls();
    }

    private RateLimitBehaviour<T, string> Behaviour<T>()
        where T : IRateLimitedRequest
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddSingleton(_ports.RateLimiter.Object);
        services.AddSingleton(_ports.CurrentUser.Object);
        return new RateLimitBehaviour<T, string>(services.BuildServiceProvider());
    }
}

using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class DependencyInjectionTests
{
    private static readonly Type[] Ports =
    [
        typeof(ICurrentUser), typeof(IPasswordHasher), typeof(IRateLimiter), typeof(IObjectStore), typeof(IObjectLinks),
        typeof(IChatEvents), typeof(IClock), typeof(IInferenceEngine), typeof(IFallbackResponder), typeof(IHostPresence),
        typeof(IUnitOfWork), typeof(IUserRepository), typeof(IApiKeyRepository), typeof(IChatRepository),
        typeof(IMessageRepository), typeof(IRelayRequestRepository), typeof(IMetricsRecorder), typeof(IUsageRecorder),
        typeof(IRelayQueueSignal), typeof(IChatReadModel), typeof(IChatTree), typeof(IEnvelopeCipher),
        typeof(IReplayGuard), typeof(IServerRelayTransport), typeof(IHostRelayTransport),
        typeof(MeatLizard.Application.Backups.IDatabaseBackups), typeof(IRuntimeSettings), typeof(ISettingsStore), typeof(IRateLimitSettings),
        typeof(IAuditLog), typeof(IAdminReadModel), typeof(ILinkCodeStore), typeof(IChannelIdentityStore),
        typeof(IChannelConversationStore), typeof(IDutyLeases), typeof(IInviteRepository), typeof(IPasswordResets),
        typeof(IChatSearch), typeof(IShareLinkStore), typeof(IFeedbackStore), typeof(IAdminConsoleReads),
        typeof(IPersonaRepository), typeof(IErasedAccounts), typeof(IChatOrganisation), typeof(IChatImports),
        typeof(IAnswerCacheStore), typeof(IRelayHostTokens),
    ];

    private ListLoggerProvider _logs = null!;
    private Mock<IUserRepository> _users = null!;

    private ServiceProvider Build(bool withWorker = false, params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Logging.ClearProviders();
        _logs = new ListLoggerProvider();
        builder.Logging.AddProvider(_logs);
        builder.AddApplicationServices();

        _users = new Mock<IUserRepository>();
        foreach (var port in Ports)
        {
            var mock = port == typeof(IUserRepository)
                ? _users
                : (Mock)Activator.CreateInstance(typeof(Mock<>).MakeGenericType(port))!;
            builder.Services.AddSingleton(port, mock.Object);
        }

        builder.Services.AddSingleton(new PlatformDescription("Sqlite", "Memory", "FileSystem", "InProcess", "None", false));
        builder.Services.AddSingleton<IChatClosedSignal, NoChatClosedSignal>();
        builder.Services.AddRelayServer();
        if (withWorker)
        {
            builder.Services.AddRelayWorker();
        }

        return builder.Services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    [TearDown]
    public void TearDown() => _logs?.Dispose();

    /// <summary>A registration runs in a transaction: the mocked unit of work runs it.</summary>
    private static void RunRegistrationTransactions(IServiceScope scope) =>
        Mock.Get(scope.ServiceProvider.GetRequiredService<IUnitOfWork>())
            .Setup(u => u.InTransactionAsync(It.IsAny<Func<CancellationToken, Task<UserDto>>>(), It.IsAny<CancellationToken>()))
            .Returns((Func<CancellationToken, Task<UserDto>> work, CancellationToken ct) => work(ct));

    [Test]
    public void Mediator_Resolves()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();

        Assert.That(scope.ServiceProvider.GetService<IMediator>(), Is.Not.Null);
    }

    [Test]
    public void APathOnlyARareCaseTakes_IsBuiltOnFirstUse_AsTheScopesOwn()
    {
        // A send that fails, an answer other than a completion, a question of tool results: a question's scope does not
        // build these (and all they depend on) unless it goes that way, and then gets the scope's own instance.
        using var provider = Build();
        using var scope = provider.CreateScope();
        var unsent = scope.ServiceProvider.GetRequiredService<Lazy<MeatLizard.Application.Relay.Dispatch.UnsentRequests>>();

        Assert.That(unsent.IsValueCreated, Is.False);
        Assert.That(unsent.Value,
            Is.SameAs(scope.ServiceProvider.GetRequiredService<MeatLizard.Application.Relay.Dispatch.UnsentRequests>()));
        using var other = provider.CreateScope();
        Assert.That(other.ServiceProvider.GetRequiredService<Lazy<MeatLizard.Application.Relay.Dispatch.UnsentRequests>>().Value,
            Is.Not.SameAs(unsent.Value));
    }

    [Test]
    public void EveryHandlerAndValidator_Resolves_WhenThePortsAndTheWorkerAreRegistered()
    {
        using var provider = Build(withWorker: true);
        using var scope = provider.CreateScope();
        var assembly = typeof(DependencyInjection).Assembly;
        var contracts = assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false })
            .SelectMany(t => t.GetInterfaces())
            .Where(i => i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IRequestHandler<,>)
                                            || i.GetGenericTypeDefinition() == typeof(IValidator<>)))
            .ToList();

        Assert.That(contracts, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var contract in contracts)
            {
                Assert.That(() => scope.ServiceProvider.GetRequiredService(contract), Throws.Nothing, contract.ToString());
            }
        });
    }

    [Test]
    public void EveryHandler_IsInExactlyOneList_OfTheApplicationTheRelayServerOrTheWorker()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddApplicationServices();
        builder.Services.AddRelayServer();
        builder.Services.AddRelayWorker();
        var registered = builder.Services
            .Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IRequestHandler<,>))
            .Select(d => $"{d.ImplementationType?.Name} for {d.ServiceType.GenericTypeArguments[0].Name}")
            .ToList();

        var written = ClosedImplementations(typeof(IRequestHandler<,>))
            .Select(c => $"{c.Type.Name} for {c.Contract.GenericTypeArguments[0].Name}")
            .ToList();

        Assert.That(written, Is.Not.Empty);
        Assert.That(registered, Is.EquivalentTo(written),
            "a handler is missing from the lists in AddApplicationServices, AddRelayServer or AddRelayWorker, or is in two");
    }

    [Test]
    public void EveryValidator_IsRegisteredOnce()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddApplicationServices();
        var registered = builder.Services
            .Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IValidator<>))
            .Select(d => d.ImplementationType?.Name)
            .ToList();

        Assert.That(registered, Is.EquivalentTo(ClosedImplementations(typeof(IValidator<>)).Select(c => c.Type.Name)));
    }

    private static IEnumerable<(Type Type, Type Contract)> ClosedImplementations(Type openInterface) =>
        typeof(DependencyInjection).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false })
            .SelectMany(t => t.GetInterfaces()
                .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == openInterface)
                .Select(i => (t, i)));

    [TestCase("0")]
    [TestCase("-00:00:05")]
    [TestCase("02:00:00")]
    public void HostDrainDeadline_OutOfRange_NamesTheSetting(string value)
    {
        using var provider = Build(withWorker: true, ("Host:DrainDeadline", value));

        var error = Assert.Throws<OptionsValidationException>(
            () => _ = provider.GetRequiredService<IOptions<ModelHostOptions>>().Value);

        Assert.That(error!.Message, Is.EqualTo("Host:DrainDeadline must be a positive time span of at most 01:00:00, e.g. 00:00:20."));
    }

    [Test]
    public void HostSettings_AreReadUnderTheirOldSectionNameToo_AndHostWinsKeyByKey()
    {
        using var former = Build(withWorker: true, ("Worker:DrainDeadline", "00:00:45"), ("Worker:HostName", "old-name"));
        using var both = Build(withWorker: true, ("Worker:DrainDeadline", "00:00:45"), ("Worker:HostName", "old-name"),
            ("Host:HostName", "new-name"));

        var read = former.GetRequiredService<IOptions<ModelHostOptions>>().Value;
        var overridden = both.GetRequiredService<IOptions<ModelHostOptions>>().Value;

        Assert.That((read.DrainDeadline, read.HostName), Is.EqualTo((TimeSpan.FromSeconds(45), "old-name")));
        Assert.That((overridden.DrainDeadline, overridden.HostName), Is.EqualTo((TimeSpan.FromSeconds(45), "new-name")));
    }

    [TestCase("Lifetime", "0", "Cache:Answers:Lifetime must be a positive time span of at most 30 days, e.g. 01:00:00.")]
    [TestCase("Lifetime", "31.00:00:00", "Cache:Answers:Lifetime must be a positive time span of at most 30 days, e.g. 01:00:00.")]
    [TestCase("MaxEntries", "0", "Cache:Answers:MaxEntries must be a whole number from 1 to 10000000, e.g. 10000.")]
    public void AnswerCacheSettings_OutOfRange_NameTheSetting(string key, string value, string expected)
    {
        using var provider = Build(settings: ($"Cache:Answers:{key}", value));

        var error = Assert.Throws<OptionsValidationException>(() => _ = provider
            .GetRequiredService<IOptions<MeatLizard.Application.Messages.Caching.AnswerCacheOptions>>().Value);

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    [Test]
    public void AnswerCacheSettings_AreRead_AndTheCacheIsOffByDefault()
    {
        using var plain = Build();
        using var set = Build(settings: [("Cache:Answers:Enabled", "true"), ("Cache:Answers:Lifetime", "00:10:00"),
            ("Cache:Answers:MaxEntries", "50"), ("Cache:Answers:SharedAcrossUsers", "true")]);

        var off = plain.GetRequiredService<IOptions<MeatLizard.Application.Messages.Caching.AnswerCacheOptions>>().Value;
        var on = set.GetRequiredService<IOptions<MeatLizard.Application.Messages.Caching.AnswerCacheOptions>>().Value;

        Assert.That((off.Enabled, off.SharedAcrossUsers), Is.EqualTo((false, false)));
        Assert.That((on.Enabled, on.Lifetime, on.MaxEntries, on.SharedAcrossUsers),
            Is.EqualTo((true, TimeSpan.FromMinutes(10), 50, true)));
    }

    [Test]
    public void AuthRegistration_NotAPolicy_NamesTheSetting()
    {
        using var provider = Build(settings: ("Auth:Registration", "7"));

        var error = Assert.Throws<OptionsValidationException>(
            () => _ = provider.GetRequiredService<IOptions<MeatLizard.Application.Auth.AuthOptions>>().Value);

        Assert.That(error!.Message, Is.EqualTo("Auth:Registration must be Open, Approval, InviteOnly or Closed."));
    }

    [Test]
    public void AuthRegistration_IsRead()
    {
        using var provider = Build(settings: ("Auth:Registration", "InviteOnly"));

        Assert.That(provider.GetRequiredService<IOptions<MeatLizard.Application.Auth.AuthOptions>>().Value.Registration,
            Is.EqualTo(MeatLizard.Domain.Users.RegistrationPolicy.InviteOnly));
    }

    [Test]
    public void HostDrainDeadline_IsRead_AndTheHostWaitsLongEnoughForIt()
    {
        using var provider = Build(withWorker: true, ("Host:DrainDeadline", "00:02:00"));

        Assert.That(provider.GetRequiredService<IOptions<ModelHostOptions>>().Value.DrainDeadline,
            Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(provider.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout,
            Is.EqualTo(TimeSpan.FromMinutes(2) + RelayRegistration.DrainMargin),
            "the host's own shutdown limit (30 s by default) must not cut the drain short");
    }

    [Test]
    public void HostDrainDeadline_DefaultsTo20Seconds_WithinTheHostsDefaultShutdownLimit()
    {
        using var provider = Build(withWorker: true);

        Assert.That(provider.GetRequiredService<IOptions<ModelHostOptions>>().Value.DrainDeadline,
            Is.EqualTo(TimeSpan.FromSeconds(20)));
        Assert.That(provider.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout,
            Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(30)));
    }

    [Test]
    public void Behaviours_AreRegisteredInOrder_ExceptionLoggingThenAdminAuditThenValidationThenRateLimitThenPerformance()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();

        // An admin command is audited and rate limited: every behaviour runs around it.
        var behaviours = scope.ServiceProvider
            .GetServices<IPipelineBehavior<MeatLizard.Application.Admin.Commands.BanUser, MeatLizard.Application.Admin.Commands.UserStatusChangedDto>>()
            .Select(b => b.GetType().GetGenericTypeDefinition());

        Assert.That(behaviours, Is.EqualTo(new[]
        {
            typeof(UnhandledExceptionBehaviour<,>), typeof(MeatLizard.Application.Admin.AdminAuditBehaviour<,>),
            typeof(ValidationBehaviour<,>), typeof(RateLimitBehaviour<,>), typeof(PerformanceBehaviour<,>),
        }));
    }

    [Test]
    public void Behaviours_ThatHoldNothingOfARequest_AreMadeOncePerProcess_TheCallersOnesPerScope()
    {
        using var provider = Build();
        using var first = provider.CreateScope();
        using var second = provider.CreateScope();
        var a = first.ServiceProvider.GetServices<IPipelineBehavior<RegisterUser, UserDto>>().ToList();
        var b = second.ServiceProvider.GetServices<IPipelineBehavior<RegisterUser, UserDto>>().ToList();

        // The logging, the validation and the timing are the same objects in every request's scope; the rate limits
        // act for the scope's caller, so each scope has its own.
        Assert.That(a.Zip(b).Where(p => ReferenceEquals(p.First, p.Second)).Select(p => p.First.GetType().GetGenericTypeDefinition()),
            Is.EqualTo(new[] { typeof(UnhandledExceptionBehaviour<,>), typeof(ValidationBehaviour<,>), typeof(PerformanceBehaviour<,>) }));
        Assert.That(a.Zip(b).Where(p => !ReferenceEquals(p.First, p.Second)).Select(p => p.First.GetType().GetGenericTypeDefinition()),
            Is.EqualTo(new[] { typeof(RateLimitBehaviour<,>) }));
    }

    [Test]
    public void Behaviours_TheAuditAndTheRateLimits_AreBuiltOnlyForTheRequestsTheyActOn()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();

        // Neither audited nor limited (each API request's key lookup, the relay loops' commands): the container builds
        // neither behaviour, nor the audit log the audit needs.
        var plain = scope.ServiceProvider.GetServices<IPipelineBehavior<AuthenticateApiKey, AuthenticatedApiKey?>>()
            .Select(b => b.GetType().GetGenericTypeDefinition());
        var limited = scope.ServiceProvider.GetServices<IPipelineBehavior<RegisterUser, UserDto>>()
            .Select(b => b.GetType().GetGenericTypeDefinition());

        Assert.That(plain, Is.EqualTo(new[]
        {
            typeof(UnhandledExceptionBehaviour<,>), typeof(ValidationBehaviour<,>), typeof(PerformanceBehaviour<,>),
        }));
        Assert.That(limited, Is.EqualTo(new[]
        {
            typeof(UnhandledExceptionBehaviour<,>), typeof(ValidationBehaviour<,>), typeof(RateLimitBehaviour<,>),
            typeof(PerformanceBehaviour<,>),
        }));
    }

    [Test]
    public void Send_InvalidRequest_IsStoppedByValidationBeforeTheHandler_AndNotLoggedAsUnhandled()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();

        Assert.That(async () => await mediator.Send(new RegisterUser("x", "short")), Throws.TypeOf<ValidationException>());
        _users.VerifyNoOtherCalls();
        Assert.That(_logs.Entries.Where(e => e.Level >= LogLevel.Warning), Is.Empty);
    }

    [Test]
    public void Send_HandlerFailingUnexpectedly_IsLoggedByTheOutermostBehaviour()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
        _users.Setup(u => u.GetByUsernameAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("database down"));
        RunRegistrationTransactions(scope);

        Assert.That(async () => await mediator.Send(new RegisterUser("alice", "correct horse")),
            Throws.InvalidOperationException);
        Assert.That(_logs.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message),
            Is.EqualTo(new[] { $"Unhandled exception in {nameof(RegisterUser)}" }));
    }

    [Test]
    public void Send_ValidRequest_ReachesTheHandler()
    {
        using var provider = Build();
        using var scope = provider.CreateScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();
        var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher>();
        Mock.Get(hasher).Setup(h => h.Hash("correct horse")).Returns("hashed");
        _users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(1);
        RunRegistrationTransactions(scope);

        Assert.That(async () => (await mediator.Send(new RegisterUser("alice", "correct horse"))).Username,
            Is.EqualTo("alice"));
        _users.Verify(u => u.AddAsync(It.Is<User>(x => x.PasswordHash == "hashed"), It.IsAny<CancellationToken>()),
            Times.Once);
    }
}

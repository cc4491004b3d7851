using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Backups;
using MeatLizard.Application.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moq;

namespace MeatLizard.Application.Tests.Admin;

/// <summary>
/// The Application layer composed as a host composes it (MediatR pipeline with the audit and validation behaviours),
/// with the ports as in-memory fakes and mocks: the audit log and settings table are lists a test reads back.
/// </summary>
public sealed class AdminHarness : IDisposable
{
    public static readonly AdminActor AnAdmin = new("discord:42", "alice", IsAdmin: true);

    public static readonly AdminActor NotAnAdmin = new("discord:43", "mallory", IsAdmin: false);

    private readonly ServiceProvider _provider;

    public AdminHarness()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.AddApplicationServices();
        var services = builder.Services;
        services.AddSingleton<IChatClosedSignal, NoChatClosedSignal>();
        // The server bot, where admin commands run, controls the relay's running requests itself.
        services.AddScoped<MeatLizard.Application.Relay.LocalRelayControl>();
        services.AddScoped<IRelayControl>(provider => provider.GetRequiredService<MeatLizard.Application.Relay.LocalRelayControl>());
        services.AddSingleton<IClock>(Ports.Clock);
        services.AddSingleton(Ports.Users.Object);
        services.AddSingleton(Ports.Sessions.Object);
        services.AddSingleton(Ports.Requests.Object);
        services.AddSingleton(Ports.Messages.Object);
        services.AddSingleton(Ports.UnitOfWork.Object);
        services.AddSingleton(Ports.Reads.Object);
        services.AddSingleton(Ports.Fallback.Object);
        services.AddSingleton(Ports.Presence.Object);
        services.AddSingleton(Ports.QueueSignal.Object);
        services.AddSingleton(Ports.Events.Object);
        services.AddSingleton(Ports.Metrics.Object);
        services.AddSingleton(Ports.Usage.Object);
        services.AddSingleton(Ports.ServerTransport.Object);
        services.AddSingleton(Ports.Cipher.Object);
        services.AddSingleton(Ports.CurrentUser.Object);
        services.AddSingleton<IAuditLog>(Audit);
        services.AddSingleton<ISettingsStore>(Settings);
        services.AddSingleton<IRuntimeSettings>(Settings);
        services.AddSingleton<IRateLimitSettings>(Settings);
        services.AddSingleton(AdminReads.Object);
        services.AddSingleton(Invites.Object);
        services.AddSingleton(HostTokens.Object);
        services.AddSingleton(DutyLeases.Object);
        services.AddSingleton(Backups.Object);
        services.AddSingleton(ObjectStore.Object);
        services.AddSingleton(ObjectLinks.Object);
        services.AddSingleton(new PlatformDescription("Sqlite", "Memory", "FileSystem", "Discord", "None", false));
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        // The fallback follows the settings, as the real responder does.
        Ports.Fallback.Setup(f => f.GetModeAsync(It.IsAny<CancellationToken>()))
            .Returns((CancellationToken ct) => Settings.FallbackModeAsync(FallbackMode.Inform, ct));
        ObjectLinks.Setup(l => l.CreateDownloadLinkAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<TimeSpan>(),
                It.IsAny<CancellationToken>()))
            .ReturnsAsync((string key, string _, TimeSpan valid, CancellationToken _) =>
                new ObjectLink("https://files.example/" + key, Ports.Clock.UtcNow + valid));
    }

    public TestPorts Ports { get; } = new();

    public InMemoryAuditLog Audit { get; } = new();

    public InMemorySettings Settings { get; } = new();

    public Mock<IAdminReadModel> AdminReads { get; } = new();

    public Mock<IInviteRepository> Invites { get; } = new();

    /// <summary>The direct relay's host tokens (the status lists them with that transport; this harness's is Discord).</summary>
    public Mock<IRelayHostTokens> HostTokens { get; } = new(MockBehavior.Strict);

    /// <summary>The leases the running server bots hold (the status lists them).</summary>
    public Mock<IDutyLeases> DutyLeases { get; } = new() { DefaultValue = DefaultValue.Empty };

    public Mock<IDatabaseBackups> Backups { get; } = new();

    public Mock<IObjectStore> ObjectStore { get; } = new();

    public Mock<IObjectLinks> ObjectLinks { get; } = new();

    public async Task<TResponse> SendAsync<TResponse>(IRequest<TResponse> request)
    {
        await using var scope = _provider.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }

    public void Dispose() => _provider.Dispose();
}

public sealed class InMemoryAuditLog : IAuditLog
{
    private readonly List<AuditEntry> _entries = [];

    public IReadOnlyList<AuditEntry> Entries => _entries;

    public AuditEntry Single => _entries.Count == 1
        ? _entries[0]
        : throw new InvalidOperationException($"Expected one audit row, found {_entries.Count}.");

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        _entries.Add(entry);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEntry>> ListRecentAsync(int max, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AuditEntry>>(_entries.AsEnumerable().Reverse().Take(max).ToList());
}

/// <summary>The settings table, the process's cached view of it (counting invalidations) and the rate limits it feeds.</summary>
public sealed class InMemorySettings : ISettingsStore, IRuntimeSettings, IRateLimitSettings
{
    private readonly Dictionary<string, SettingEntry> _stored = [];

    public int Invalidations { get; private set; }

    public IReadOnlyDictionary<string, SettingEntry> Stored => _stored;

    public RateLimit Configured { get; set; } = new(30, 10);

    public Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SettingEntry>>(_stored.Values.ToList());

    public Task SetAsync(SettingEntry entry, CancellationToken cancellationToken)
    {
        _stored[entry.Key] = entry;
        return Task.CompletedTask;
    }

    public Task<bool> RemoveAsync(string key, CancellationToken cancellationToken) => Task.FromResult(_stored.Remove(key));

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_stored.TryGetValue(key, out var entry) ? entry.Value : null);

    public void Invalidate() => Invalidations++;

    public ValueTask<RateLimit> GetAsync(RateLimitScope scope, CancellationToken cancellationToken) =>
        this.RateLimitAsync(scope, Configured, cancellationToken);
}

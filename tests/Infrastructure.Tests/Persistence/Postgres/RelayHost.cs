using MeatLizard.Presentation.Api;
using System.Runtime.CompilerServices;
using MeatLizard.Application;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using MeatLizard.Infrastructure.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// One whole relay process on PostgreSQL, composed as the API host composes itself in embedded mode: dispatcher,
/// in-process transport and a local worker whose engine answers at once. Several of them on one database are several
/// dispatchers competing for the same queue.
/// </summary>
internal sealed class RelayHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string _dataRoot;

    private RelayHost(IHost host, string dataRoot)
    {
        _host = host;
        _dataRoot = dataRoot;
    }

    public IServiceProvider Services => _host.Services;

    public static async Task<RelayHost> StartAsync(string connectionString, IDictionary<string, string?>? settings = null)
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-tests", Guid.NewGuid().ToString("N"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Data:Root"] = dataRoot,
            ["Relay:PollInterval"] = "00:00:00.200",
            ["Relay:HeartbeatInterval"] = "00:00:00.200",
            ["Relay:WorkerTimeout"] = "00:00:05",
            ["Relay:PartialInterval"] = "00:00:00.020",
            ["Relay:AckTimeout"] = "00:00:05",
            ["Relay:CompletionTimeout"] = "00:00:10",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddApplicationServices();
        builder.AddPlatform();
        // Answers at once with a fixed reply, so what is measured is the queue, not a model.
        builder.Services.AddSingleton<IInferenceEngine>(new ScriptedEngine { Reply = _ => "forty-two" });

        var host = builder.Build();
        await host.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await host.StartAsync();
        var relayHost = new RelayHost(host, dataRoot);
        await relayHost.WaitForWorkerAsync();
        return relayHost;
    }

    /// <summary>
    /// Stores a user message and its pending request in one transaction, as SendMessage does, without waking this
    /// process's dispatcher: only the database's NOTIFY (or the slow poll) tells the dispatchers.
    /// </summary>
    public static async Task<RelayRequest> QueueAsync(IServiceProvider services, User owner, Chat chat, string text)
    {
        await using var scope = services.CreateAsyncScope();
        var provider = scope.ServiceProvider;
        return await provider.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            var now = DateTimeOffset.UtcNow;
            var message = chat.PostUserMessage(owner, PromptText.From(text), now);
            var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, now);
            await provider.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
            await provider.GetRequiredService<IRelayRequestRepository>().AddAsync(request, ct);
            return request;
        }, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            _host.Dispose();
            if (Directory.Exists(_dataRoot))
            {
                Directory.Delete(_dataRoot, recursive: true);
            }
        }
    }

    private async Task WaitForWorkerAsync()
    {
        var presence = Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The local worker did not send a heartbeat within 10 s.");
            }

            await Task.Delay(20);
        }
    }
}

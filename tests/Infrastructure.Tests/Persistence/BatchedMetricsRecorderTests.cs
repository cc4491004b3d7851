using Microsoft.Extensions.Logging;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

public sealed class BatchedMetricsRecorderTests
{
    [Test]
    public async Task Figures_AreWrittenInBatches_AndTheQueueIsFlushedOnStop()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();
        var services = new ServiceCollection();
        var logs = new CapturedLogs();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddSqlitePersistence(db.ConnectionString).AddBatchedMetrics();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        var recorder = provider.GetRequiredService<IMetricsRecorder>();
        // The request figures' and the usage's batching recorders run as hosted services (beside SQLite's search index
        // and its checkpoints, which the SQLite adapter runs).
        var hosted = provider.GetServices<IHostedService>().ToList();
        Assert.That(hosted.Where(s => s is not (SqliteSearchIndex or SqliteCheckpoints)).ToList(), Has.Count.EqualTo(2));
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        for (var i = 0; i < 25; i++)
        {
            await recorder.RecordAsync(new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UnixEpoch, i, 0,
                null, 0, 0, false, "completed"), CancellationToken.None);
        }

        Assert.That(hosted, Does.Contain(recorder), "the host's recorder is the batching one");
        foreach (var service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        Assert.That(logs.Messages, Is.Empty);
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM metrics"), Is.EqualTo(25));
        Assert.That(await db.ScalarAsync<long>("SELECT SUM(queue_ms) FROM metrics"), Is.EqualTo(Enumerable.Range(0, 25).Sum()));
    }
}

internal sealed class CapturedLogs : ILoggerProvider
{
    public List<string> Messages { get; } = [];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (owner.Messages)
                {
                    owner.Messages.Add($"{formatter(state, exception)} {exception}");
                }
            }
        }
    }
}

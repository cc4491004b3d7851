using System.Diagnostics.Metrics;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>The API's distributed role on its own: its configuration checks, and what it does with no server bot.</summary>
public sealed class DistributedApiRoleTests
{
    private static async Task<(int ExitCode, string Output)> RunApiAsync(Dictionary<string, string> environment)
    {
        var work = Directory.CreateTempSubdirectory("meatlizard-api-role-").FullName;
        try
        {
            await using var api = HostProcess.Start("API", "MeatLizard.Presentation.Api", work, environment);
            return (await api.WaitForExitAsync(TimeSpan.FromSeconds(60)), api.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public async Task AnApiThatDoesNotDispatch_OnSqlite_StopsWithOneLineNamingTheSetting()
    {
        var (exitCode, output) = await RunApiAsync(new Dictionary<string, string>
        {
            ["Relay__Dispatcher"] = "External",
            ["Urls"] = "http://127.0.0.1:0",
        });

        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output.Trim(), Does.StartWith("Configuration error: Relay:Dispatcher 'External' needs Storage:Provider=Postgres"));
    }

    [Test]
    public async Task ATelegramToken_OnAnApiThatDoesNotDispatch_StopsWithOneLineNamingTheSetting()
    {
        // The server bot polls Telegram in that set-up; a second poller would get Telegram's 409 and answer twice.
        var (exitCode, output) = await RunApiAsync(new Dictionary<string, string>
        {
            ["Relay__Dispatcher"] = "External",
            ["Telegram__BotToken"] = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            ["Urls"] = "http://127.0.0.1:0",
        });

        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output.Trim(), Does.StartWith(
            "Configuration error: Telegram:BotToken is set on an API instance with Relay:Dispatcher=External: the server bot serves Telegram in that set-up"));
    }

    [Test]
    public async Task ATelegramToken_OnTheClientBot_StopsWithOneLineNamingTheSetting()
    {
        var work = Directory.CreateTempSubdirectory("meatlizard-client-role-").FullName;
        try
        {
            await using var bot = HostProcess.Start("client bot", "MeatLizard.Presentation.DiscordClient", work, new Dictionary<string, string>
            {
                ["Relay__Transport"] = "Direct",
                ["Telegram__BotToken"] = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            });
            var exitCode = await bot.WaitForExitAsync(TimeSpan.FromSeconds(60));

            Assert.That(exitCode, Is.EqualTo(2), bot.Output);
            Assert.That(bot.Output.Trim(), Does.StartWith(
                "Configuration error: Telegram:BotToken is set on the client bot, which serves no chat network"));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public async Task AnUnknownDispatcher_StopsWithOneLineNamingTheSetting()
    {
        var (exitCode, output) = await RunApiAsync(new Dictionary<string, string>
        {
            ["Relay__Dispatcher"] = "Elsewhere",
            ["Urls"] = "http://127.0.0.1:0",
        });

        Assert.That(exitCode, Is.EqualTo(2), output);
        Assert.That(output.Trim(), Does.StartWith("Configuration error: Relay:Dispatcher 'Elsewhere' is not a known value; use Local or External."));
    }

    [Test]
    public async Task WithNoRelayServerListening_ACancelIsRefusedAt503_AndProgressIsUnknown()
    {
        var endpoint = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_REDIS");
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            Assert.Fail("MEATLIZARD_TEST_REDIS is not set: run ./test.sh, which starts Redis (scripts/test-services/redis.sh).");
        }

        await using var metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
        await using var connection = new RedisConnection(
            Options.Create(new RedisOptions { Configuration = endpoint!, KeyPrefix = $"test:{Guid.NewGuid():N}:" }),
            NullLogger<RedisConnection>.Instance);
        await using var control = new RedisRelayControl(connection,
            new RedisOutages(metrics.GetRequiredService<IMeterFactory>(), NullLogger<RedisOutages>.Instance));

        var started = DateTime.UtcNow;
        var cancel = Assert.ThrowsAsync<ServiceUnavailableException>(
            () => control.CancelUnfinishedAsync(new ChatId(Guid.NewGuid()), CancellationToken.None));
        var progress = await control.GetProgressAsync(new RelayRequestId(Guid.NewGuid()), CancellationToken.None);

        Assert.That(cancel!.Message, Does.Contain("no relay server"));
        Assert.That(progress, Is.Null);
        Assert.That(DateTime.UtcNow - started, Is.LessThan(RedisRelayControl.ReplyTimeout),
            "nobody heard the call, so nobody is waited for");
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Api.Tests;

/// <summary>
/// A host that restarted while the API instance it was connected to died (issue 39), on each database: it dials
/// another instance, which never heard the run that took the question. The ack named that run, so the other instance
/// knows at the new run's first heartbeat that the question was lost with it, and has it answered now — not at its
/// completion deadline. The same when the run had been sent the question and had not acknowledged it: the dispatch named
/// the run it went to, and the new run never had it — answered now, not at its ack timeout.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class DirectRelayHostRestartTests(string storage)
{
    [Test]
    public Task AHostRestartedAsItsInstanceDied_HasWhatItsLastRunTookAnsweredAtOnce_ByTheInstanceItDialsNext() =>
        RestartsAsItsInstanceDiesAsync(acknowledged: true);

    [Test]
    public Task AHostRestartedAsItsInstanceDied_HasWhatItsLastRunWasSentButNeverAcknowledgedAnsweredAtOnce_ByTheInstanceItDialsNext() =>
        // The question was on the dead instance's link, and the new run never had it: it waited for its ack timeout.
        RestartsAsItsInstanceDiesAsync(acknowledged: false);

    /// <summary>
    /// The host's first run gets the question and hangs — having <paramref name="acknowledged"/> it or not — then its
    /// instance dies and the host restarts, dialling a second instance; the question is answered by the new run at once,
    /// not at its completion or ack deadline (five minutes each).
    /// </summary>
    private async Task RestartsAsItsInstanceDiesAsync(bool acknowledged)
    {
        var key = DirectClientBot.NewKey();
        var settings = DirectClientBot.ApiSettings(key);
        Deadlines(settings);
        await using var first = await new ApiHost(settings, withEngine: false, storage: storage).StartAsync();
        var token = await DirectClientBot.AddHostAsync(first, "laptop");
        var stuck = new ScriptedEngine { Hang = true };
        var firstRun = await DirectClientBot.StartAsync(first, key, token, stuck, acknowledged
            ? null
            : new Dictionary<string, string?> // the run acknowledges only once its engine has something
            {
                ["Relay:AckDelay"] = "00:05:00",
                ["Relay:AckTimeout"] = "00:10:00",
            });
        var host = firstRun.Host.Services.GetRequiredService<IHostIdentity>().WorkerId;
        await first.WaitForHostsAsync(hosts => hosts.Count == 1, "the host that dialled in is alive");
        using var user = first.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();
        await user.PostAsync($"api/v1/sessions/{chat}/send", new { content = "are you there?" });
        await ChatApiTests.PollAsync(() => stuck.Requests.Count == 1, "the host's first run never got the question");
        var taken = acknowledged ? await EventuallyAckedAsync(first) : await InFlightAsync(first);
        if (!acknowledged)
        {
            Assert.That((await EventuallyAsync(first, taken, _ => true)).AckedAt, Is.Null, "the run has it, unacknowledged");
        }

        // The instance dies, and the host's run with it: nothing more comes from that run (its link is down first, so
        // the run's goodbye never leaves it).
        first.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await firstRun.DisposeAsync();

        var secondSettings = DirectClientBot.ApiSettings(key);
        Deadlines(secondSettings);
        foreach (var (name, value) in first.SharedStoreSettings)
        {
            secondSettings[name] = value;
        }

        await using var second = await new ApiHost(secondSettings, withEngine: false, firstAdmin: false).StartAsync();
        var answering = new ScriptedEngine { Reply = _ => "yes" };
        var newRunRoot = Path.Combine(Path.GetTempPath(), "meatlizard-direct-bot", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(newRunRoot);
        await File.WriteAllTextAsync(Path.Combine(newRunRoot, FileHostIdentity.FileName), host.ToString("D"));
        try
        {
            await using var newRun = await DirectClientBot.StartAsync(second, key, token, answering,
                new Dictionary<string, string?> { ["Data:Root"] = newRunRoot });

            await ChatApiTests.PollAsync(() => answering.Requests.Count == 1,
                "the host's new run was not sent the question its last run had (it waits for its deadline)");
            var answered = await EventuallyAsync(second, taken, r => r.Status == RelayRequestStatus.Completed);
            Assert.That(answered.Attempts, Is.EqualTo(2), "sent again once");
            Assert.That(answering.Requests, Has.Count.EqualTo(1), "asked once of the new run");
        }
        finally
        {
            Directory.Delete(newRunRoot, recursive: true);
        }
    }

    /// <summary>The deadlines a lost question would otherwise wait for: far beyond the test's.</summary>
    private static void Deadlines(IDictionary<string, string?> settings)
    {
        settings["Relay:AckTimeout"] = "00:05:00";
        settings["Relay:CompletionTimeout"] = "00:05:00";
    }

    /// <summary>The one request in flight.</summary>
    private static async Task<RelayRequestId> InFlightAsync(ApiHost api)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await using var scope = api.Services.CreateAsyncScope();
            var inFlight = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .ListInFlightAsync(CancellationToken.None);
            if (inFlight is [var one])
            {
                return one.Id;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the question was never sent");
            await Task.Delay(20);
        }
    }

    /// <summary>The one request in flight, once its host has acknowledged it.</summary>
    private static async Task<RelayRequestId> EventuallyAckedAsync(ApiHost api)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await using var scope = api.Services.CreateAsyncScope();
            var inFlight = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .ListInFlightAsync(CancellationToken.None);
            if (inFlight is [{ AckedAt: not null } acked])
            {
                return acked.Id;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the host never acknowledged the question");
            await Task.Delay(20);
        }
    }

    private static async Task<RelayRequest> EventuallyAsync(ApiHost api, RelayRequestId id, Func<RelayRequest, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await using var scope = api.Services.CreateAsyncScope();
            var request = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .GetAsync(id, CancellationToken.None);
            if (request is not null && condition(request))
            {
                return request;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"request {id.Value}: {request?.Status}");
            await Task.Delay(20);
        }
    }
}

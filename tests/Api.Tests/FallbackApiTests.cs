using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>When no worker answers in time, the configured fallback does — and the user can tell.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class FallbackApiTests(string storage)
{
    [Test]
    public async Task WithNoEngine_TheInformFallbackAnswersAtOnce_AndStatusSaysWhy()
    {
        await using var host = await new ApiHost(withEngine: false, storage: storage).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "anyone there?" });
        var status = await ApiClient.ReadAsync(await client.GetAsync("api/v1/status"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var message = await ApiClient.ReadAsync(response);
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("notice"));
        Assert.That(message.GetProperty("content").GetString(), Does.Contain("offline"));
        Assert.That(status.GetProperty("workersOnline").GetInt32(), Is.Zero);
        Assert.That(status.GetProperty("engine").GetString(), Is.EqualTo("None"));
        Assert.That(status.GetProperty("summary").GetString(), Does.Contain("Inference:Engine"));
    }

    [Test]
    public async Task WithNoEngine_AndMarkovMode_AGeneratedReplyIsMarkedFallback()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?> { ["Fallback:Mode"] = "Markov" }, withEngine: false, storage: storage)
            .StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var message = await ApiClient.ReadAsync(
            await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "tell me something" }));

        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("fallback"));
        Assert.That(message.GetProperty("content").GetString(), Is.Not.Empty);
        var transcript = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript"));
        Assert.That(transcript.GetProperty("messages")[1].GetProperty("source").GetString(), Is.EqualTo("fallback"));
    }

    [Test]
    public async Task WhenTheWorkerDoesNotFinishInTime_TheFallbackAnswers_AndTheWorkerIsTold()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Relay:CompletionTimeout"] = "00:00:01.500",
        }, storage: storage).StartAsync();
        host.Engine.Hang = true;
        using var client = host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "slow one" });

        var message = await ApiClient.ReadAsync(response);
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("notice"));
        Assert.That(message.GetProperty("content").GetString(), Does.Contain("in time"));
        await ChatApiTests.PollAsync(() => host.Engine.Cancellations > 0, "the hanging job was not cancelled");
        var next = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "can I go on?" });
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), "a timed-out request no longer blocks the chat");
    }

    [Test]
    public async Task RateLimit_Returns429WithRetryAfter_AndStoresNothingForTheRefusedMessage()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:UserBurst"] = "2",
            ["RateLimits:PerUserPerMinute"] = "1",
        }, storage: storage).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var first = await client.CreateSessionAsync();
        var second = await client.CreateSessionAsync();
        var third = await client.CreateSessionAsync();

        Assert.That((await client.PostAsync($"api/v1/sessions/{first}/send?wait=true", new { content = "1" })).StatusCode,
            Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.PostAsync($"api/v1/sessions/{second}/send?wait=true", new { content = "2" })).StatusCode,
            Is.EqualTo(HttpStatusCode.OK));
        var refused = await client.PostAsync($"api/v1/sessions/{third}/send", new { content = "3" });

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        Assert.That((await ApiClient.ReadAsync(refused)).GetProperty("detail").GetString(), Does.Contain("try again"));
        var messages = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{third}/messages"));
        Assert.That(messages.GetProperty("messages").GetArrayLength(), Is.Zero);
    }

    [TestCase("--Storage:Provider=Oracle", "Storage:Provider 'Oracle'")]
    [TestCase("--Relay:AckTimeout=-00:00:05", "Relay:AckTimeout")]
    [TestCase("--Relay:Keys:0:Id=1", "Relay:Keys:0:Key")]
    [TestCase("--Fallback:Mode=Shout", "Fallback:Mode")]
    [TestCase("--Metrics:BearerToken=short", "Metrics:BearerToken must be")]
    [TestCase("--Metrics:Port=70000", "Metrics:Port must be")]
    [TestCase("--Auth:Registration=Sometimes", "Auth:Registration")]
    public async Task BadConfiguration_StopsTheHostWithOneLineNamingTheKey(string setting, string named)
    {
        var api = Path.Combine(TestContext.CurrentContext.TestDirectory, "MeatLizard.Presentation.Api.dll");
        var dataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-config-test", Guid.NewGuid().ToString("N"));
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = TestContext.CurrentContext.TestDirectory,
        };
        foreach (var argument in new[] { api, setting, $"--Data:Root={dataRoot}", "--Urls=http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var lines = (await stderr).Trim().Split('\n');
        Assert.That(process.ExitCode, Is.EqualTo(2), await stdout);
        Assert.That(lines, Has.Length.EqualTo(1), string.Join("\n", lines));
        Assert.That(lines[0], Does.StartWith("Configuration error: ").And.Contain(named));
        Assert.That(await stdout, Does.Not.Contain("Exception").And.Not.Contain("Hosting failed"),
            "the one line is all that is said: no stack trace in the log before it");
    }
}

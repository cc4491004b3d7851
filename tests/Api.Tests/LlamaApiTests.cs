using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The chat flow end to end with a real llama.cpp engine (the build and test model from scripts/test-services/llama.sh)
/// instead of the scripted one: API → relay (encrypted, in-process) → worker → llama.cpp → stream → stored answer.
/// </summary>
[TestFixture("LlamaServer")]
[TestFixture("LlamaCli")]
[NonParallelizable]
public sealed class LlamaApiTests(string engine)
{
    private ApiHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = engine,
            ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Threads"] = "2",
            ["Inference:Seed"] = "7",
            ["Host:HostName"] = "studio-mac",
            ["Relay:CompletionTimeout"] = "00:01:00",
        }, withEngine: false).StartAsync();
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await LlamaTestHost.WorkerReadyAsync(client))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"the {engine} worker did not report ready within 60 s");
            await Task.Delay(100);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task SendAndWait_AnswersFromTheModel_WithTokenCounts()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync(new { systemPrompt = "You are a lizard." });

        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "Hello, who are you?", maxTokens = 12 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var message = await ApiClient.ReadAsync(response);
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(message.GetProperty("content").GetString(), Is.Not.Empty);
        Assert.That(message.GetProperty("tokens").GetProperty("completion").GetInt32(), Is.InRange(1, 12));
        Assert.That(message.GetProperty("tokens").GetProperty("prompt").GetInt32(), Is.GreaterThan(5));
    }

    [Test]
    public async Task Figures_HoldLlamaCppsOwnTimings_AndTokensPerSecond()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "Count to five.", maxTokens = 12 });
        var requestId = (await ApiClient.ReadAsync(response)).GetProperty("requestId").GetString();

        // Figures are written in batches, shortly after the answer.
        await using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_host.DataRoot, "meatlizard.db")}");
        await db.OpenAsync();
        (double? Generation, double? Prompt, long? Inference, long Tokens)? row = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (row is null)
        {
            await using var command = db.CreateCommand();
            command.CommandText = "SELECT generation_ms, prompt_ms, inference_ms, completion_tokens FROM metrics WHERE request_id = $id";
            command.Parameters.AddWithValue("$id", requestId);
            await using var reader = await command.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                row = (reader.IsDBNull(0) ? null : reader.GetDouble(0), reader.IsDBNull(1) ? null : reader.GetDouble(1),
                    reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.GetInt64(3));
            }
            else
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the answer's figures were not recorded within 30 s");
                await Task.Delay(100);
            }
        }

        var (generation, prompt, inference, tokens) = row.Value;
        Assert.That(tokens, Is.InRange(1, 12));
        Assert.That(inference, Is.GreaterThan(0));
        if (engine == "LlamaServer" || generation is not null)
        {
            // llama-completion can lose its timing lines at exit (llama.cpp issue 22142); llama-server always sends them.
            Assert.That(generation, Is.GreaterThan(0).And.LessThanOrEqualTo(inference!.Value));
            Assert.That(prompt, Is.GreaterThan(0));
        }

        await using var scope = _host.Services.CreateAsyncScope();
        var summary = await scope.ServiceProvider.GetRequiredService<MediatR.IMediator>()
            .Send(new MeatLizard.Application.Admin.Queries.GetMetricsSummary(TimeSpan.FromHours(1)));
        Assert.That(summary.TokensPerSecond, Is.GreaterThan(0));
    }

    [Test]
    public async Task Stream_DeliversDeltasThatBeginTheStoredMessage_WhichTheMessageEventCompletes()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await using var stream = await SessionStream.OpenAsync(_host.BaseAddress, id, client.AccessToken!);

        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "Tell me about the desert." });
        var message = await stream.WaitForAsync(e => ChatApiTests.Type(e) == "message", TimeSpan.FromSeconds(60));

        var deltas = stream.Seen.Where(e => ChatApiTests.Type(e) == "delta").ToList();
        Assert.That(deltas, Is.Not.Empty);
        var content = Content(message);
        Assert.That(content, Is.Not.Empty);
        // Text still waiting when the engine finished travels with the final (docs/relay-envelope.md), so the
        // deltas are the beginning of the answer and the message event carries all of it.
        var streamed = string.Concat(deltas.Select(d => d.GetProperty("text").GetString()));
        Assert.That(streamed, Is.Not.Empty);
        Assert.That(content.StartsWith(streamed, StringComparison.Ordinal), Is.True,
            $"the deltas ({streamed.Length} chars) begin the stored answer ({content.Length} chars)");
    }

    [Test]
    public async Task SecondTurn_IsAnsweredWithTheHistory()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var first = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "first question" });
        var second = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "second question" });

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var answer = await ApiClient.ReadAsync(second);
        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(answer.GetProperty("tokens").GetProperty("prompt").GetInt32(),
            Is.GreaterThan((await ApiClient.ReadAsync(first)).GetProperty("tokens").GetProperty("prompt").GetInt32()));
    }

    [Test]
    public async Task Status_NamesTheEngine_AndItsWorkerIsReady()
    {
        using var client = await _host.AdminClientAsync(); // the host's name is for admins

        var status = await ApiClient.ReadAsync(await client.GetAsync("api/v1/status"));

        Assert.That(status.GetProperty("engine").GetString(), Is.EqualTo(engine));
        Assert.That(status.GetProperty("workersOnline").GetInt32(), Is.EqualTo(1));
        var host = status.GetProperty("workers")[0];
        Assert.That(host.GetProperty("ready").GetBoolean(), Is.True);
        Assert.That(host.GetProperty("name").GetString(), Is.EqualTo("studio-mac"));
        Assert.That(host.GetProperty("models").EnumerateArray().Select(m => m.GetString()),
            Is.EqualTo(new[] { Path.GetFileNameWithoutExtension(LlamaTestHost.Required("MEATLIZARD_TEST_MODEL")) }));
        if (engine == "LlamaServer")
        {
            Assert.That(host.GetProperty("slots").GetInt32(), Is.EqualTo(1), "llama-server's parallel slots");
        }
    }

    private static string Content(JsonElement message) =>
        (message.TryGetProperty("message", out var inner) ? inner : message).GetProperty("content").GetString()!;
}

/// <summary>
/// A message sent while the model is still loading waits for it and is answered by the model, instead of getting the
/// offline notice at once. The real llama-server, held back until the test opens a gate file (as a large model takes
/// a while to load), so the test does not depend on how fast the machine is.
/// </summary>
[NonParallelizable]
public sealed class LlamaLoadingApiTests
{
    [Test]
    public async Task MessageSentWhileTheModelLoads_IsAnsweredByTheModel_NotTheFallback()
    {
        var slow = Directory.CreateTempSubdirectory("meatlizard-slow-llama-").FullName;
        var gate = Path.Combine(slow, "open");
        var wrapper = Path.Combine(slow, "llama-server");
        var server = Path.Combine(LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"), "llama-server");
        await File.WriteAllTextAsync(wrapper,
            $"#!/bin/sh\nwhile [ ! -e '{gate}' ]; do sleep 0.05; done\nexec '{server}' \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = slow,
            ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "8",
            ["Inference:Threads"] = "2",
            ["Fallback:Mode"] = "Inform",
            ["Relay:CompletionTimeout"] = "00:01:30",
        }, withEngine: false).StartAsync();
        try
        {
            using var client = host.NewClient();
            await client.SignUpAsync();
            var id = await client.CreateSessionAsync();
            var worker = await WaitForWorkerAsync(client, w => w.GetProperty("loading").GetBoolean());
            Assert.That(worker.GetProperty("ready").GetBoolean(), Is.False);
            Assert.That(worker.GetProperty("loading").GetBoolean(), Is.True);

            var sending = client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "Hello?" });
            await WaitForWorkerAsync(client, w => w.GetProperty("jobsRunning").GetInt32() == 1 || sending.IsCompleted);
            Assert.That(sending.IsCompleted, Is.False, "the message was answered before the model had loaded");

            await File.WriteAllTextAsync(gate, "");
            var response = await sending;

            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var message = await ApiClient.ReadAsync(response);
            Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("model"),
                "the message waited for the model instead of getting the offline notice");
            Assert.That(message.GetProperty("content").GetString(), Is.Not.Empty);
        }
        finally
        {
            await host.DisposeAsync();
            Directory.Delete(slow, recursive: true);
        }
    }

    /// <summary>The first worker in the status, once there is one that <paramref name="done"/> accepts.</summary>
    private static async Task<JsonElement> WaitForWorkerAsync(ApiClient client, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await client.GetAsync("api/v1/status");
            if (response.StatusCode == HttpStatusCode.OK
                && (await ApiClient.ReadAsync(response)).GetProperty("workers") is { } workers
                && workers.GetArrayLength() > 0 && done(workers[0]))
            {
                return workers[0].Clone();
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the worker did not get there within 60 s");
            await Task.Delay(50);
        }
    }
}

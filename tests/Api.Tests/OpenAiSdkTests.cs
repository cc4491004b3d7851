using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The official <c>openai</c> npm package, as an outside client, against <c>/v1</c> with the real llama.cpp engine (the
/// generated test model, so the words are gibberish: the shapes are what is checked). Each scenario is one run of
/// <c>tests/OpenAiClient/client.mjs</c>, which prints what the SDK observed as one JSON line.
/// </summary>
[NonParallelizable]
public sealed class OpenAiSdkTests
{
    private ApiHost _host = null!;
    private string _key = null!;
    private ApiClient _owner = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference:ModelName"] = "lizard-test",
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Threads"] = "2",
            ["Relay:CompletionTimeout"] = "00:01:00",
        }, withEngine: false).StartAsync();
        (_owner, _key) = await SignUpWithKeyAsync(_host);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await LlamaTestHost.WorkerReadyAsync(_owner))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the llama-server worker did not report ready within 60 s");
            await Task.Delay(100);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _owner.Dispose();
        await _host.DisposeAsync();
    }

    [Test]
    public async Task Models_ListTheDefaultAndTheHostsModel()
    {
        var seen = await RunAsync("models");

        Assert.That(seen.GetProperty("ids").EnumerateArray().Select(i => i.GetString()),
            Is.SupersetOf(new[] { "default", "lizard-test" }));
    }

    [Test]
    public async Task Complete_AnswersWithUsageAndAFinishReason()
    {
        var seen = await RunAsync("complete");

        Assert.That(seen.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
        Assert.That(seen.GetProperty("content").GetString(), Is.Not.Empty);
        Assert.That(seen.GetProperty("finish").GetString(), Is.AnyOf("stop", "length"));
        var usage = seen.GetProperty("usage");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.GreaterThan(5));
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.InRange(1, 16));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(),
            Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32()));
    }

    [Test]
    public async Task Stream_WithUsage_EndsWithAUsageChunkWithoutChoices()
    {
        var seen = await RunAsync("stream");

        Assert.That(seen.GetProperty("firstRole").GetString(), Is.EqualTo("assistant"));
        Assert.That(seen.GetProperty("content").GetString(), Is.Not.Empty);
        Assert.That(seen.GetProperty("finish").GetString(), Is.AnyOf("stop", "length"));
        Assert.That(seen.GetProperty("lastChoices").GetInt32(), Is.Zero);
        Assert.That(seen.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.InRange(1, 16));
        Assert.That(seen.GetProperty("chunks").GetInt32(), Is.GreaterThanOrEqualTo(4), "role, text, finish, usage");
    }

    [Test]
    public async Task Stop_EndsTheAnswerBeforeTheStopSequence()
    {
        var seen = await RunAsync("stop");

        Assert.That(seen.TryGetProperty("tooShort", out _), Is.False, "the free answer was too short to stop inside");
        var stop = seen.GetProperty("stop").GetString()!;
        Assert.That(seen.GetProperty("stopped").GetString(), Does.Not.Contain(stop));
        Assert.That(seen.GetProperty("stopped").GetString()!.Length, Is.LessThan(seen.GetProperty("free").GetString()!.Length));
    }

    [Test]
    public async Task MaxTokens_FinishesWithLength()
    {
        var seen = await RunAsync("length");

        Assert.That(seen.GetProperty("finish").GetString(), Is.EqualTo("length"));
        Assert.That(seen.GetProperty("completionTokens").GetInt32(), Is.EqualTo(3));
    }

    [Test]
    public async Task ResponseFormatJsonObject_GivesJson()
    {
        var seen = await RunAsync("json");

        var content = seen.GetProperty("content").GetString()!;
        Assert.That(content.TrimStart(), Does.StartWith("{"));
        if (seen.GetProperty("finish").GetString() == "stop")
        {
            Assert.That(seen.GetProperty("parses").GetBoolean(), Is.True, content);
        }
    }

    [Test]
    public async Task WrongKey_RaisesAuthenticationError()
    {
        var seen = await RunAsync("complete", key: "ml_this-key-does-not-exist");

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("AuthenticationError"));
        Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(401));
    }

    [Test]
    public async Task TwoChoices_RaiseBadRequestErrorNamingN()
    {
        var seen = await RunAsync("n2");

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("BadRequestError"));
        Assert.That(seen.GetProperty("param").GetString(), Is.EqualTo("n"));
    }

    [Test]
    public async Task AbortingAStream_StopsTheGeneration_AndKeepsWhatWasSaid()
    {
        var before = await ChatCountAsync(_owner);

        var seen = await RunAsync("abort");

        Assert.That(seen.GetProperty("pieces").GetInt32(), Is.GreaterThanOrEqualTo(2));
        Assert.That(seen.GetProperty("aborted").GetBoolean(), Is.True);
        Assert.That(seen.GetProperty("finish").ValueKind, Is.EqualTo(JsonValueKind.Null), "closed before the answer ended");
        // A cancelled answer is kept as far as it got, without token counts (a finished one has them), long before
        // 900 tokens of this model would have been written.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        JsonElement last;
        while (true)
        {
            var chats = await ApiClient.ReadAsync(await _owner.GetAsync("api/v1/sessions"));
            Assert.That(chats.GetArrayLength(), Is.EqualTo(before + 1));
            var messages = (await ApiClient.ReadAsync(
                await _owner.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"))).GetProperty("messages");
            last = messages[messages.GetArrayLength() - 1];
            if (last.GetProperty("role").GetString() == "assistant")
            {
                break;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the aborted answer was not ended");
            await Task.Delay(100);
        }

        Assert.That(last.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(last.TryGetProperty("tokens", out var tokens) && tokens.ValueKind != JsonValueKind.Null, Is.False,
            "the answer was cancelled, not finished");
    }

    [Test]
    public async Task StoreFalse_LeavesNoChat()
    {
        var before = await ChatCountAsync(_owner);

        var seen = await RunAsync("nostore");

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await ChatCountAsync(_owner) != before)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the store:false chat was kept");
            await Task.Delay(50);
        }
    }

    [Test]
    public async Task AGrowingHistory_LandsInOneChat()
    {
        var before = await ChatCountAsync(_owner);

        var seen = await RunAsync("history");

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(await ChatCountAsync(_owner), Is.EqualTo(before + 1));
        var chats = await ApiClient.ReadAsync(await _owner.GetAsync("api/v1/sessions"));
        var messages = (await ApiClient.ReadAsync(
            await _owner.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"))).GetProperty("messages");
        Assert.That(messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()),
            Is.EqualTo(new[] { "user", "assistant", "user", "assistant" }));
        Assert.That(messages[3].GetProperty("content").GetString(), Is.EqualTo(seen.GetProperty("second").GetString()));
    }

    [Test]
    public async Task OverTheRateLimit_RaisesRateLimitError_AfterTheSdksOwnRetry()
    {
        // A host of its own with a limit of one answer a second (burst 1) and the scripted engine.
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:PerUserPerMinute"] = "60",
            ["RateLimits:UserBurst"] = "1",
        }).StartAsync();
        var (owner, key) = await SignUpWithKeyAsync(host);
        owner.Dispose();

        var seen = await RunAsync("ratelimit", host, key, maxRetries: 1);

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("RateLimitError"), seen.ToString());
        Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(429));
        Assert.That(seen.GetProperty("requests").GetInt32(), Is.GreaterThanOrEqualTo(4),
            "three calls, and the SDK sent the refused ones again before giving up");
    }

    private Task<JsonElement> RunAsync(string scenario, string? key = null) => RunAsync(scenario, _host, key ?? _key);

    private static async Task<JsonElement> RunAsync(string scenario, ApiHost host, string key, int maxRetries = 0)
    {
        var client = await OpenAiClientInstall.DirectoryAsync();
        var start = new ProcessStartInfo("node", ["client.mjs", scenario])
        {
            WorkingDirectory = client,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["OPENAI_BASE_URL"] = new Uri(host.BaseAddress, "v1").ToString(),
                ["OPENAI_API_KEY"] = key,
                ["MODEL"] = "default",
                ["MAX_RETRIES"] = maxRetries.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        };
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await node.WaitForExitAsync(timeout.Token);
        Assert.That(node.ExitCode, Is.Zero, await errors);
        var lastLine = (await output).Trim().Split('\n')[^1];
        return JsonDocument.Parse(lastLine).RootElement.Clone();
    }

    private static async Task<(ApiClient Owner, string Key)> SignUpWithKeyAsync(ApiHost host)
    {
        var owner = host.NewClient();
        await owner.SignUpAsync();
        var created = await owner.PostAsync("api/v1/auth/api-keys", new { name = "openai sdk" });
        return (owner, (await ApiClient.ReadAsync(created)).GetProperty("key").GetString()!);
    }

    private static async Task<int> ChatCountAsync(ApiClient owner) =>
        (await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength();
}

/// <summary>
/// tests/OpenAiClient installed once (npm ci, from its lock file) into a cache outside the repository, keyed by the
/// lock file, with the scenario script copied beside it: node_modules are never written into the working tree.
/// </summary>
internal static class OpenAiClientInstall
{
    private static readonly SemaphoreSlim Once = new(1, 1);
    private static string? s_directory;

    public static async Task<string> DirectoryAsync()
    {
        await Once.WaitAsync();
        try
        {
            return s_directory ??= await InstallAsync();
        }
        finally
        {
            Once.Release();
        }
    }

    private static async Task<string> InstallAsync()
    {
        var source = Path.Combine(RepositoryRoot(), "tests", "OpenAiClient");
        var lockFile = await File.ReadAllBytesAsync(Path.Combine(source, "package-lock.json"));
        var cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "meatlizard",
            "openai-client", Convert.ToHexString(SHA256.HashData(lockFile))[..16].ToLowerInvariant());
        Directory.CreateDirectory(cache);
        foreach (var file in new[] { "package.json", "package-lock.json", "client.mjs" })
        {
            File.Copy(Path.Combine(source, file), Path.Combine(cache, file), overwrite: true);
        }

        if (!File.Exists(Path.Combine(cache, "node_modules", "openai", "package.json")))
        {
            var npm = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            {
                WorkingDirectory = cache,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var install = Process.Start(npm)!;
            var errors = install.StandardError.ReadToEndAsync();
            _ = install.StandardOutput.ReadToEndAsync();
            await install.WaitForExitAsync();
            if (install.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm ci of tests/OpenAiClient failed: {await errors}");
            }
        }

        return cache;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeatLizard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("MeatLizard.sln not found above the test directory.");
    }
}

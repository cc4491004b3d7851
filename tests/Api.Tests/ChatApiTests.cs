using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>The whole chat flow through the in-process (encrypted) relay with the scripted engine as worker.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ChatApiTests(string storage) : ApiHostFixture(storage)
{
    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.Zero;
        Host.Engine.FailWith = null;
        Host.Engine.Hang = false;
    }

    [Test]
    public async Task Send_Returns202WithIds_AndTheAnswerIsStored()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "hello there" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var ids = await ApiClient.ReadAsync(response);
        Assert.That(ids.GetProperty("messageId").GetGuid(), Is.Not.EqualTo(Guid.Empty));
        Assert.That(ids.GetProperty("requestId").GetGuid(), Is.Not.EqualTo(Guid.Empty));
        var messages = await WaitForMessagesAsync(client, id, 2);
        Assert.That(messages[0].GetProperty("role").GetString(), Is.EqualTo("user"));
        Assert.That(messages[0].GetProperty("content").GetString(), Is.EqualTo("hello there"));
        Assert.That(messages[1].GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(messages[1].GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(messages[1].GetProperty("content").GetString(), Is.EqualTo("You said: hello there"));
    }

    [Test]
    public async Task SendAndWait_Returns200WithTheAssistantMessage()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync(new { systemPrompt = "You are terse." });

        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "ping", maxTokens = 32 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var message = await ApiClient.ReadAsync(response);
        Assert.That(message.GetProperty("content").GetString(), Is.EqualTo("You said: ping"));
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(message.GetProperty("tokens").GetProperty("completion").GetInt32(), Is.EqualTo(3));
        var request = Host.Engine.Requests.Last(r => r.ChatId == id);
        Assert.That(request.SystemPrompt, Is.EqualTo("You are terse."));
        Assert.That(request.MaxTokens, Is.EqualTo(32));
    }

    [Test]
    public async Task SecondTurn_SendsTheHistoryToTheEngine()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "first question" });
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "second question" });

        var turns = Host.Engine.Requests.Last(r => r.ChatId == id).Turns;
        Assert.That(turns.Select(t => t.Content), Is.EqualTo(new[]
        {
            "first question", "You said: first question", "second question",
        }));
    }

    [Test]
    public async Task Stream_OverWebSocket_DeliversDeltasThenTheMessage()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(30);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await using var stream = await SessionStream.OpenAsync(Host.BaseAddress, id, client.AccessToken!);

        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "one two three four" });
        var message = await stream.WaitForAsync(e => Type(e) == "message");

        var deltas = stream.Seen.Where(e => Type(e) == "delta").ToList();
        Assert.That(deltas, Is.Not.Empty);
        Assert.That(string.Concat(deltas.Select(d => d.GetProperty("text").GetString())),
            Is.EqualTo("You said: one two three four"));
        Assert.That(deltas.Select(d => d.GetProperty("seq").GetInt32()), Is.Ordered.Ascending.And.Unique);
        Assert.That(message.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("You said: one two three four"));
        Assert.That(stream.Seen.Any(e => Type(e) == "status" && e.GetProperty("status").GetString() == "queued"), Is.True);
    }

    [Test]
    public async Task Stream_AsServerSentEvents_DeliversTheMessage()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        using var response = await OpenServerSentEventsAsync(client, id);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);

        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "over sse" });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        var sawMessageEvent = false;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (line == "event: message")
            {
                sawMessageEvent = true;
            }
            else if (sawMessageEvent && line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonDocument.Parse(line["data: ".Length..]).RootElement;
                Assert.That(data.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("You said: over sse"));
                return;
            }
        }

        Assert.Fail("The SSE stream ended without a message event.");
    }

    [Test]
    [NonParallelizable] // counts the process's timers
    public async Task Stream_AsServerSentEvents_ManyPiecesAtOnce_ArriveInOrder_WithoutATimerLeftPerPiece()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        using var response = await OpenServerSentEventsAsync(client, id);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.That(await reader.ReadLineAsync(), Is.EqualTo(": connected"));
        var timersBefore = Timer.ActiveCount;

        // 1,000 pieces of an answer in four bursts, each read whole before the next is published.
        var events = Host.Services.GetRequiredService<MeatLizard.Application.Abstractions.IChatEvents>();
        var requestId = Guid.NewGuid();
        var seqs = new List<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        for (var burst = 0; burst < 4; burst++)
        {
            var pieces = Enumerable.Range(burst * 250 + 1, 250).Select(seq => new MeatLizard.Application.Abstractions.ChatEvent(
                MeatLizard.Application.Abstractions.ChatEventTypes.Delta, id, requestId, seq, $"w{seq} ")).ToList();
            await events.PublishAsync(pieces, CancellationToken.None);
            while (seqs.Count < (burst + 1) * 250 && await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    seqs.Add(JsonDocument.Parse(line["data: ".Length..]).RootElement.GetProperty("seq").GetInt32());
                }
            }
        }

        Assert.That(seqs, Is.EqualTo(Enumerable.Range(1, 1000)), "every piece, once, in order");
        // The stream had one keep-alive timer at a time; it had one per piece (each 15 s long) before.
        Assert.That(Timer.ActiveCount - timersBefore, Is.LessThan(250), "timers left running by the stream");
    }

    [Test]
    public async Task Stream_AsServerSentEvents_AClientThatDisconnects_LeavesNoErrorInTheLog()
    {
        // A host of its own, so its log holds only what these streams caused.
        await using var host = await new ApiHost(storage: Storage).StartAsync();
        using var client = host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        // Clients that leave while the server waits for the next event, and one that leaves right after an answer.
        for (var i = 0; i < 8; i++)
        {
            var response = await OpenServerSentEventsAsync(client, id);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.That(await reader.ReadLineAsync(), Is.EqualTo(": connected"));
            if (i == 7)
            {
                await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "then leave" });
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                while (await reader.ReadLineAsync(timeout.Token) is { } line && line != "event: message")
                {
                }
            }

            reader.Dispose();
            response.Dispose();
        }

        // The server notices each disconnect and ends its stream; give it a moment to do so, then read the log.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var problems = host.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error || e.Exception is not null).ToList();
        Assert.That(problems, Is.Empty, string.Join(Environment.NewLine, problems));
    }

    [Test]
    public async Task Stream_ReconnectingMidAnswer_ShowsTextSoFar_AndTheRestOnce()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var words = string.Join(' ', Enumerable.Range(1, 20).Select(i => $"w{i}"));
        await using (var first = await SessionStream.OpenAsync(Host.BaseAddress, id, client.AccessToken!))
        {
            await client.PostAsync($"api/v1/sessions/{id}/send", new { content = words });
            await first.WaitForAsync(e => Type(e) == "delta" && e.GetProperty("seq").GetInt32() >= 3);
        }

        await using var second = await SessionStream.OpenAsync(Host.BaseAddress, id, client.AccessToken!);
        var snapshot = await second.WaitForAsync(e => Type(e) == "status");
        var message = await second.WaitForAsync(e => Type(e) == "message");

        var text = snapshot.GetProperty("text").GetString()!;
        var lastSeq = snapshot.GetProperty("seq").GetInt32();
        Assert.That(text, Is.Not.Empty, "the snapshot carries what was produced before the reconnect");
        var rest = second.Seen.Where(e => Type(e) == "delta" && e.GetProperty("seq").GetInt32() > lastSeq)
            .Select(e => e.GetProperty("text").GetString());
        Assert.That(text + string.Concat(rest), Is.EqualTo(message.GetProperty("message").GetProperty("content").GetString()));
    }

    [Test]
    public async Task Messages_PageBackwards_OldestFirstWithinAPage()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        for (var i = 1; i <= 3; i++)
        {
            await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = $"q{i}" });
        }

        var newest = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages?limit=4"));
        var page = newest.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToList();
        Assert.That(page, Is.EqualTo(new[] { "q2", "You said: q2", "q3", "You said: q3" }));
        Assert.That(newest.GetProperty("hasMore").GetBoolean(), Is.True);

        var before = newest.GetProperty("nextBefore").GetGuid();
        var older = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages?limit=4&before={before}"));
        Assert.That(older.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { "q1", "You said: q1" }));
        Assert.That(older.GetProperty("hasMore").GetBoolean(), Is.False);
    }

    [TestCase("0")]
    [TestCase("1000")]
    public async Task Messages_WithLimitOutOfRange_Returns400NamingLimit(string limit)
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.GetAsync($"api/v1/sessions/{id}/messages?limit={limit}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("limit", out _), Is.True);
    }

    [Test]
    public async Task Send_OverTheSizeLimit_Returns413_AndStoresNothing()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = new string('a', 16_001) });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        var messages = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages"));
        Assert.That(messages.GetProperty("messages").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task Send_WithEmptyContent_Returns400NamingContent()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "   " });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("content", out _), Is.True);
    }

    [Test]
    public async Task Cancel_StopsTheGeneration_KeepsWhatWasProduced_AndTheEngineIsCancelled()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await using var stream = await SessionStream.OpenAsync(Host.BaseAddress, id, client.AccessToken!);
        var cancellationsBefore = Host.Engine.Cancellations;
        var words = string.Join(' ', Enumerable.Range(1, 100).Select(i => $"w{i}"));

        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = words });
        await stream.WaitForAsync(e => Type(e) == "delta");
        var cancel = await client.PostAsync($"api/v1/sessions/{id}/cancel", null);

        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(cancel)).GetProperty("cancelled").GetBoolean(), Is.True);
        await stream.WaitForAsync(e => Type(e) == "status" && e.GetProperty("status").GetString() == "cancelled");
        await PollAsync(() => Host.Engine.Cancellations > cancellationsBefore, "the engine was not cancelled");
        var messages = await WaitForMessagesAsync(client, id, 2);
        var kept = messages[1].GetProperty("content").GetString()!;
        Assert.That(kept, Is.Not.Empty);
        Assert.That(("You said: " + words).StartsWith(kept, StringComparison.Ordinal), Is.True, "the kept text is what was produced");
        Assert.That(kept.Length, Is.LessThan(("You said: " + words).Length));
        var again = await client.PostAsync($"api/v1/sessions/{id}/cancel", null);
        Assert.That((await ApiClient.ReadAsync(again)).GetProperty("cancelled").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Send_WhileAnAnswerIsRunning_Returns409()
    {
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "a b c d e f g h i j" });
        var second = await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "impatient" });

        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        await client.PostAsync($"api/v1/sessions/{id}/cancel", null);
    }

    [Test]
    public async Task EngineFailure_StoresANotice_AndStreamsAnError()
    {
        Host.Engine.FailWith = "model file is corrupt";
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "hi" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var message = await ApiClient.ReadAsync(response);
        Assert.That(message.GetProperty("source").GetString(), Is.EqualTo("notice"));
        Assert.That(message.GetProperty("content").GetString(), Does.Contain("model file is corrupt"));
    }

    [Test]
    public async Task Transcript_AsJsonAndCsv_HoldsEveryMessage()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "=SUM(A1), \"quoted\"" });

        var json = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript?format=json"));
        var csvResponse = await client.GetAsync($"api/v1/sessions/{id}/transcript?format=csv");
        var csv = await csvResponse.Content.ReadAsStringAsync();
        var badFormat = await client.GetAsync($"api/v1/sessions/{id}/transcript?format=xml");

        Assert.That(json.GetProperty("messages").GetArrayLength(), Is.EqualTo(2));
        Assert.That(json.GetProperty("session").GetProperty("id").GetGuid(), Is.EqualTo(id));
        Assert.That(csvResponse.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/csv"));
        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Is.EqualTo("id,createdAt,role,source,content,promptTokens,completionTokens,parentId,images"));
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(lines[1], Does.Contain("\"'=SUM(A1), \"\"quoted\"\"\""), "formula cells are defused and quotes doubled");
        Assert.That(badFormat.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Status_ShowsAHostsNameAndRawErrorToAdminsOnly()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?> { ["Host:HostName"] = "alices-macbook" },
            storage: Storage).StartAsync();
        host.Engine.FailWith = "llama-server: failed to open /Users/alice/models/secret-project.gguf";
        using var user = host.NewClient();
        await user.SignUpAsync();
        var chat = await user.CreateSessionAsync();
        (await user.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "fail, please" })).EnsureSuccessStatusCode();
        using var admin = await host.AdminClientAsync();
        using var anonymous = host.NewClient();

        JsonElement WorkerOf(JsonElement status) => status.GetProperty("workers")[0];
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement seenByAdmin;
        while (!(seenByAdmin = WorkerOf(await ApiClient.ReadAsync(await admin.GetAsync("api/v1/status"))))
                   .TryGetProperty("lastError", out var error) || error.GetString()?.Contains("alice") != true)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the host's error did not reach the status");
            await Task.Delay(100);
        }

        var seenByUser = WorkerOf(await ApiClient.ReadAsync(await user.GetAsync("api/v1/status")));
        var seenAnonymously = WorkerOf(await ApiClient.ReadAsync(await anonymous.GetAsync("api/v1/status")));

        Assert.That(seenByAdmin.GetProperty("name").GetString(), Is.EqualTo("alices-macbook"));
        foreach (var seen in new[] { seenByUser, seenAnonymously })
        {
            Assert.That(seen.GetRawText(), Does.Not.Contain("alice"), "neither the machine's name nor its paths");
            Assert.That(seen.GetProperty("ready").GetBoolean(), Is.True, "the state is still told");
            Assert.That(seen.GetProperty("lastError").GetString(), Is.EqualTo("answering (its last request failed)"));
        }
    }

    [Test]
    public async Task Status_ReportsTheWorkerOnline()
    {
        using var client = Host.NewClient();

        var status = await ApiClient.ReadAsync(await client.GetAsync("api/v1/status"));

        Assert.That(status.GetProperty("workersOnline").GetInt32(), Is.EqualTo(1));
        Assert.That(status.GetProperty("engine").GetString(), Is.EqualTo("Scripted"));
        Assert.That(status.GetProperty("fallbackMode").GetString(), Is.EqualTo("inform"));
        Assert.That(status.GetProperty("queueDepth").GetInt32(), Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public async Task HealthReadyAndOpenApi_Answer()
    {
        using var client = Host.NewClient();

        Assert.That((await client.GetAsync("health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await client.GetAsync("ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var openApi = await ApiClient.ReadAsync(await client.GetAsync("openapi/v1.json"));
        Assert.That(openApi.GetProperty("paths").TryGetProperty("/api/v1/sessions/{id}/send", out _), Is.True);
    }

    [Test]
    public async Task TheOpenApiDocument_DescribesTheStreamsEvents_WithEveryAnswerStatus()
    {
        using var client = Host.NewClient();

        var schemas = (await ApiClient.ReadAsync(await client.GetAsync("openapi/v1.json"))).GetProperty("components")
            .GetProperty("schemas");

        Assert.That(schemas.GetProperty("AnswerStatus").GetProperty("enum").EnumerateArray().Select(s => s.GetString()),
            Is.EqualTo(MeatLizard.Application.Abstractions.AnswerStatuses.All));
        var status = schemas.GetProperty("ChatEvent").GetProperty("properties").GetProperty("status").GetProperty("oneOf");
        Assert.That(status.EnumerateArray().Select(s => s.TryGetProperty("$ref", out var r) ? r.GetString() : null),
            Does.Contain("#/components/schemas/AnswerStatus"));
    }

    internal static string? Type(JsonElement e) => e.GetProperty("type").GetString();

    internal static async Task<List<JsonElement>> WaitForMessagesAsync(ApiClient client, Guid chatId, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var page = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chatId}/messages"));
            var messages = page.GetProperty("messages").EnumerateArray().ToList();
            if (messages.Count >= count || DateTime.UtcNow > deadline)
            {
                Assert.That(messages, Has.Count.EqualTo(count));
                return messages;
            }

            await Task.Delay(25);
        }
    }

    internal static async Task PollAsync(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail(failure);
            }

            await Task.Delay(20);
        }
    }

    private static async Task<HttpResponseMessage> OpenServerSentEventsAsync(ApiClient client, Guid chatId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/sessions/{chatId}/stream");
        request.Headers.Accept.ParseAdd("text/event-stream");
        return await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }
}

using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The queue at the server, over HTTP on both databases: a model host with one slot gets one request at a time, the
/// next waits at the server (told its place), and a model queue that is full refuses more with 503 and Retry-After.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ModelQueueApiTests(string storage) : ApiHostFixture(storage)
{
    protected override IDictionary<string, string?> Settings =>
        new Dictionary<string, string?> { ["Relay:MaxQueuePerModel"] = "1" };

    protected override async Task OnStartedAsync()
    {
        Host.Engine.Slots = 1;
        Host.Engine.Hang = true;
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        // Until a heartbeat with the slots arrives, the host's entry has no "slots" (or there is no entry yet).
        while (!((await ApiClient.ReadAsync(await client.GetAsync("api/v1/status"))).GetProperty("workers") is
                 { ValueKind: System.Text.Json.JsonValueKind.Array } workers && workers.GetArrayLength() > 0
                 && workers[0].TryGetProperty("slots", out var slots) && slots.ValueKind == System.Text.Json.JsonValueKind.Number))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the worker's heartbeat did not bring its slots");
            await Task.Delay(50);
        }
    }

    [Test]
    public async Task AOneSlotHost_TakesOneAtATime_TheNextWaits_AndAFullQueueIs503WithRetryAfter()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chats = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            chats.Add(await client.CreateSessionAsync());
        }

        var asked = Host.Engine.Requests.Count; // what the fixture's other tests asked before
        var first = await client.PostAsync($"api/v1/sessions/{chats[0]}/send", new { content = "one" });
        await WaitUntilAsync(() => Host.Engine.Requests.Count == asked + 1);
        var second = await client.PostAsync($"api/v1/sessions/{chats[1]}/send", new { content = "two" });
        await Task.Delay(500); // a few dispatcher passes: the second must still wait for the slot
        var third = await client.PostAsync($"api/v1/sessions/{chats[2]}/send", new { content = "three" });

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(Host.Engine.Requests, Has.Count.EqualTo(asked + 1), "the host has one slot: the second waits at the server");
        Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), await third.Content.ReadAsStringAsync());
        Assert.That(third.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(30)));
        var problem = await ApiClient.ReadAsync(third);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("is full"));

        var deadline = DateTime.UtcNow.AddSeconds(5);
        System.Text.Json.JsonElement model;
        do
        {
            await Task.Delay(100);
            model = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/models"))).EnumerateArray()
                .Single(m => m.GetProperty("isDefault").GetBoolean());
        }
        while (model.GetProperty("waiting").GetInt32() != 1 && DateTime.UtcNow < deadline);

        Assert.That((model.GetProperty("hosts").GetInt32(), model.GetProperty("slots").GetInt32(),
            model.GetProperty("freeSlots").GetInt32(), model.GetProperty("waiting").GetInt32()), Is.EqualTo((1, 1, 0, 1)),
            "GET /api/v1/models: one host, its one slot taken, one waiting");

        Host.Engine.Hang = false;
        await client.PostAsync($"api/v1/sessions/{chats[0]}/cancel", new { });
        await WaitUntilAsync(() => Host.Engine.Requests.Count == asked + 2);
        Assert.That(Host.Engine.Requests[asked + 1].Turns[^1].Content, Is.EqualTo("two"), "the slot freed: the waiting one goes");
    }

    [Test]
    public async Task AFullModelQueue_RefusesARegenerateAndAnEdit_As503_AsItRefusesASend()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var answered = await client.CreateSessionAsync();
        Host.Engine.Hang = false;
        var first = await client.PostAsync($"api/v1/sessions/{answered}/send?wait=true", new { content = "answer me" });
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK), await first.Content.ReadAsStringAsync());
        var (atHost, waiting) = (await client.CreateSessionAsync(), await client.CreateSessionAsync());
        Host.Engine.Hang = true;
        var asked = Host.Engine.Requests.Count;
        Assert.That((await client.PostAsync($"api/v1/sessions/{atHost}/send", new { content = "at the host" })).StatusCode,
            Is.EqualTo(HttpStatusCode.Accepted));
        await WaitUntilAsync(() => Host.Engine.Requests.Count == asked + 1);
        Assert.That((await client.PostAsync($"api/v1/sessions/{waiting}/send", new { content = "waits" })).StatusCode,
            Is.EqualTo(HttpStatusCode.Accepted), "the queue's one place");

        var regenerate = await client.PostAsync($"api/v1/sessions/{answered}/regenerate", new { });
        var edit = await client.PostAsync($"api/v1/sessions/{answered}/edit-last", new { content = "answer me again" });

        foreach (var refused in new[] { regenerate, edit })
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), await refused.Content.ReadAsStringAsync());
            Assert.That(refused.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(30)));
        }

        var messages = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{answered}/messages")))
            .GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToList();
        Assert.That(messages, Has.Count.EqualTo(2), "the refused regenerate and edit changed nothing");
        Assert.That(messages[0], Is.EqualTo("answer me"));

        // Leaves the queue as it found it: empty, the host's slot free, the engine hanging.
        var cancelled = Host.Engine.Cancellations;
        await client.PostAsync($"api/v1/sessions/{waiting}/cancel", new { });
        await client.PostAsync($"api/v1/sessions/{atHost}/cancel", new { });
        await WaitUntilAsync(() => Host.Engine.Cancellations > cancelled);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out waiting");
            await Task.Delay(20);
        }
    }
}

using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>Regenerate the last answer; edit and resend the last message.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AskAgainApiTests(string storage) : ApiHostFixture(storage)
{
    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.Hang = false;
        Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
    }

    [Test]
    public async Task Regenerate_ReplacesTheLastAnswer_AndAsksWithoutIt()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "first" });
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "second" });
        var attempt = 0;
        Host.Engine.Reply = r => $"Take {++attempt} on {r.Turns[^1].Content}";

        var response = await client.PostAsync($"api/v1/sessions/{id}/regenerate?wait=true", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("content").GetString(), Is.EqualTo("Take 1 on second"));
        var contents = await ContentsAsync(client, id);
        Assert.That(contents, Is.EqualTo(new[] { "first", "You said: first", "second", "Take 1 on second" }));
        var turns = Host.Engine.Requests.Last(r => r.ChatId == id).Turns.Select(t => t.Content);
        Assert.That(turns, Is.EqualTo(new[] { "first", "You said: first", "second" }));
    }

    [Test]
    public async Task Regenerate_Returns202WithTheSameQuestion()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var sent = await ApiClient.ReadAsync(await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "hi" }));
        await ChatApiTests.WaitForMessagesAsync(client, id, 2);

        var response = await client.PostAsync($"api/v1/sessions/{id}/regenerate", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var ids = await ApiClient.ReadAsync(response);
        Assert.That(ids.GetProperty("messageId").GetGuid(), Is.EqualTo(sent.GetProperty("messageId").GetGuid()));
        Assert.That(ids.GetProperty("requestId").GetGuid(), Is.Not.EqualTo(sent.GetProperty("requestId").GetGuid()));
        await ChatApiTests.WaitForMessagesAsync(client, id, 2);
    }

    [Test]
    public async Task EditLast_ReplacesTheQuestionAndItsAnswer()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "first" });
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "secnod typo" });

        var response = await client.PostAsync($"api/v1/sessions/{id}/edit-last?wait=true", new { content = "second fixed" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var contents = await ContentsAsync(client, id);
        Assert.That(contents, Is.EqualTo(new[] { "first", "You said: first", "second fixed", "You said: second fixed" }));
        var transcript = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/transcript?format=json"));
        Assert.That(transcript.GetProperty("messages").GetArrayLength(), Is.EqualTo(4));
    }

    [Test]
    public async Task EditLast_WithoutText_IsA400NamingContent()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "hello" });

        var response = await client.PostAsync($"api/v1/sessions/{id}/edit-last", new { content = "" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("content", out _), Is.True);
    }

    [Test]
    public async Task Regenerate_InAnEmptyChat_IsAConflict()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var response = await client.PostAsync($"api/v1/sessions/{id}/regenerate", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("detail").GetString(), Does.Contain("no message"));
    }

    [Test]
    public async Task Regenerate_WhileAnAnswerRuns_IsAConflict_AndClosedChat_Too()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        Host.Engine.Hang = true;
        await client.PostAsync($"api/v1/sessions/{id}/send", new { content = "slow" });

        var whileRunning = await client.PostAsync($"api/v1/sessions/{id}/regenerate", null);
        var editWhileRunning = await client.PostAsync($"api/v1/sessions/{id}/edit-last", new { content = "x" });
        await client.DeleteAsync($"api/v1/sessions/{id}");
        var closed = await client.PostAsync($"api/v1/sessions/{id}/regenerate", null);

        Assert.That(whileRunning.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(editWhileRunning.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(closed.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(closed)).GetProperty("detail").GetString(), Does.Contain("closed"));
    }

    [Test]
    public async Task AnotherUsersChat_IsNotFound()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var id = await owner.CreateSessionAsync();
        await owner.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "mine" });
        using var stranger = Host.NewClient();
        await stranger.SignUpAsync();

        var response = await stranger.PostAsync($"api/v1/sessions/{id}/regenerate", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    private static async Task<string?[]> ContentsAsync(ApiClient client, Guid id)
    {
        var page = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages"));
        return page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToArray();
    }
}

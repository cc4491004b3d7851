using System.Net;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// A chat takes one message at a time, and the database keeps it so: sends, regenerates and edits racing on one chat
/// queue one request; the others get 409, and the chat ends with exactly one answer to the message that won.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
[Parallelizable(ParallelScope.Self)]
public sealed class OneAnswerPerMessageApiTests(string storage)
{
    private ApiHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(storage: storage).StartAsync();
    }

    /// <summary>
    /// Sends <paramref name="racing"/> at once while every answer is held until all of them were answered: each racing
    /// call arrives while the winner's answer is still running, so a second 2xx can only come from two requests queued
    /// at once, never from one sent after the first answer (a slow machine can spread the calls over seconds).
    /// </summary>
    private async Task<List<int>> RaceAsync(IEnumerable<Func<Task<HttpResponseMessage>>> racing)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _host.Engine.HoldUntil = release.Task;
        try
        {
            var responses = await Task.WhenAll(racing.Select(call => call()));
            return [.. responses.Select(r => (int)r.StatusCode)];
        }
        finally
        {
            _host.Engine.HoldUntil = null;
            release.SetResult();
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Test]
    public async Task RacingRegeneratesAndEdits_QueueOneRequest_TheOthersGet409_AndTheChatEndsWithOneAnswer()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();
        var first = await client.PostAsync($"api/v1/sessions/{id}/send?wait=true", new { content = "first question" });
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK), await first.Content.ReadAsStringAsync());

        var statuses = await RaceAsync(Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? () => client.PostAsync($"api/v1/sessions/{id}/regenerate", null)
            : (Func<Task<HttpResponseMessage>>)(() =>
                client.PostAsync($"api/v1/sessions/{id}/edit-last", new { content = $"edited {i}" }))));

        Assert.That(statuses.Count(s => s is >= 200 and < 300), Is.EqualTo(1), string.Join(", ", statuses));
        Assert.That(statuses.Count(s => s == 409), Is.EqualTo(7), string.Join(", ", statuses));
        await AssertEndsWithOneAnswerAsync(client, id);
    }

    [Test]
    public async Task RacingSends_QueueOneMessage_TheOthersGet409_AndTheChatEndsWithOneAnswer()
    {
        using var client = _host.NewClient();
        await client.SignUpAsync();
        var id = await client.CreateSessionAsync();

        var statuses = await RaceAsync(Enumerable.Range(0, 8).Select(i => (Func<Task<HttpResponseMessage>>)(() =>
            client.PostAsync($"api/v1/sessions/{id}/send", new { content = $"question {i}" }))));

        Assert.That(statuses.Count(s => s == 202), Is.EqualTo(1), string.Join(", ", statuses));
        Assert.That(statuses.Count(s => s == 409), Is.EqualTo(7), string.Join(", ", statuses));
        await AssertEndsWithOneAnswerAsync(client, id);
    }

    /// <summary>Once the answer is in: user, assistant — one question, one answer, nothing left running.</summary>
    private static async Task AssertEndsWithOneAnswerAsync(ApiClient client, Guid id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var page = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages"));
            var roles = page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()).ToList();
            if (roles.Count >= 2 && roles[^1] == "assistant")
            {
                Assert.That(roles, Is.EqualTo(new[] { "user", "assistant" }));
                await Task.Delay(300);
                var again = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages"));
                Assert.That(again.GetProperty("messages").GetArrayLength(), Is.EqualTo(2), "no second answer arrives later");
                return;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"no answer yet: {string.Join(", ", roles)}");
            await Task.Delay(50);
        }
    }
}

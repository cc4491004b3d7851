using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Distributed mode end to end across processes: two API instances hand requests to the server bot through the
/// PostgreSQL outbox (woken by LISTEN/NOTIFY), the server bot relays them to the client bot over (fake) Discord, and
/// answers reach every API instance's streams through Redis.
/// </summary>
[NonParallelizable]
public sealed class DistributedModeTests : ClusterFixture
{
    private const string LongReply =
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen " +
        "eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven";

    private static bool IsAnswer(JsonElement e) =>
        e.GetProperty("type").GetString() == "message" && e.GetProperty("message").GetProperty("role").GetString() == "assistant";

    [Test]
    public async Task AMessageSentToOneInstance_IsStreamedToAClientOfTheOther()
    {
        // Signed in at API #1; the token works at API #2 too (the key ring is shared through PostgreSQL).
        using var user = await ApiUser.SignUpAsync(Cluster.Apis, at: 0);
        var chatId = await user.CreateSessionAsync(at: 0);
        await using var stream = await SseStream.OpenAsync(Cluster.Apis[1], chatId, user.AccessToken);

        var clock = Stopwatch.StartNew();
        var (status, sent) = await user.SendAsync(0, chatId, "hello across processes");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted));
        var requestId = sent.GetProperty("requestId").GetGuid();

        var answer = await stream.WaitForAsync(IsAnswer);
        var elapsed = clock.Elapsed;
        var deltas = stream.Seen.Where(e => e.GetProperty("type").GetString() == "delta").ToList();
        Assert.Multiple(() =>
        {
            Assert.That(answer.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("Echo: hello across processes"));
            Assert.That(answer.GetProperty("message").GetProperty("source").GetString(), Is.EqualTo("model"));
            Assert.That(answer.GetProperty("requestId").GetGuid(), Is.EqualTo(requestId));
            Assert.That(deltas, Is.Not.Empty, "the answer's first piece streamed to the other instance before the answer");
            Assert.That("Echo: hello across processes", Does.StartWith(string.Concat(deltas.Select(d => d.GetProperty("text").GetString()))));
            Assert.That(elapsed, Is.LessThan(Cluster.ServerPollInterval / 2),
                "the server bot was woken by LISTEN/NOTIFY, not by its slow poll");
        });

        // Either instance reads the stored chat.
        var messages = await user.MessagesAsync(1, chatId);
        Assert.That(messages.Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { "hello across processes", "Echo: hello across processes" }));
    }

    [Test]
    public async Task ManyRequestsThroughBothInstances_AreEachAnsweredExactlyOnce()
    {
        const int users = 8;
        const int messagesEach = 3;
        var prompts = new List<string>();
        await Task.WhenAll(Enumerable.Range(0, users).Select(async u =>
        {
            using var user = await ApiUser.SignUpAsync(Cluster.Apis, at: u % 2);
            var chatId = await user.CreateSessionAsync(at: u % 2);
            for (var m = 0; m < messagesEach; m++)
            {
                var prompt = $"user {u} message {m} {Guid.NewGuid():N}";
                lock (prompts)
                {
                    prompts.Add(prompt);
                }

                // Alternate the instance for every message of the chat; wait=true waits through Redis events.
                var (status, answer) = await user.SendAsync((u + m) % 2, chatId, prompt, wait: true);
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK), answer.ToString());
                Assert.That(answer.GetProperty("content").GetString(), Is.EqualTo($"Echo: {prompt}"));
            }
        }));

        var completed = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests WHERE status = 'completed' AND user_message_id IN " +
            "(SELECT id FROM messages WHERE content = ANY(@prompts))", new { prompts = prompts.ToArray() });
        var answers = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages a JOIN relay_requests r ON r.id = a.request_id JOIN messages q ON q.id = r.user_message_id " +
            "WHERE a.role = 'assistant' AND q.content = ANY(@prompts)", new { prompts = prompts.ToArray() });
        Assert.Multiple(() =>
        {
            Assert.That(completed, Is.EqualTo(users * messagesEach), "every request completed");
            Assert.That(answers, Is.EqualTo(users * messagesEach), "one stored answer per request, no duplicate");
            Assert.That(prompts.Select(Cluster.Engine.TimesAsked), Is.All.EqualTo(1), "the model was asked once per message");
        });
    }

    [Test]
    public async Task TheUserRateLimit_IsSharedByBothInstances_AndExactUnderConcurrentSends()
    {
        // 200 sends at once, half at each instance, each to a chat of its own (so none is refused for a busy chat).
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        const int attempts = 200;
        var sessions = await Task.WhenAll(Enumerable.Range(0, attempts).Select(i => user.CreateSessionAsync(at: i % 2)));

        var results = await Task.WhenAll(sessions.Select((chatId, i) => user.SendAsync(i % 2, chatId, $"burst {i}")));

        var accepted = results.Count(r => r.Status == HttpStatusCode.Accepted);
        var limited = results.Count(r => r.Status == HttpStatusCode.TooManyRequests);
        Assert.Multiple(() =>
        {
            Assert.That(accepted, Is.EqualTo(Cluster.UserBurst), "one bucket for the user, whichever instance is asked");
            Assert.That(limited, Is.EqualTo(attempts - Cluster.UserBurst));
        });
    }

    [Test]
    public async Task ACancelAtOneInstance_StopsTheGenerationTheServerBotRelays_AndKeepsWhatWasProduced()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        var chatId = await user.CreateSessionAsync();
        await using var stream = await SseStream.OpenAsync(Cluster.Apis[0], chatId, user.AccessToken);
        var cancelledBefore = Cluster.Engine.Cancellations;
        var echo = (Cluster.Engine.Reply, Cluster.Engine.DelayBetweenWords, Cluster.Engine.PauseBeforeFirstWord);
        void Echo() => (Cluster.Engine.Reply, Cluster.Engine.DelayBetweenWords, Cluster.Engine.PauseBeforeFirstWord) = echo;
        // A long answer, slowly: one word per 200 ms.
        (Cluster.Engine.Reply, Cluster.Engine.DelayBetweenWords, Cluster.Engine.PauseBeforeFirstWord) =
            (_ => LongReply, TimeSpan.FromMilliseconds(200), true);
        try
        {
            var (status, sent) = await user.SendAsync(0, chatId, "tell me a long story");
            Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted));
            var requestId = sent.GetProperty("requestId").GetGuid();
            await stream.WaitForAsync(e => e.GetProperty("type").GetString() == "delta");
            await stream.WaitForAsync(e => e.GetProperty("type").GetString() == "delta");

            // A client connecting mid-answer to the other instance is shown the text so far (asked of the server bot).
            await using var late = await SseStream.OpenAsync(Cluster.Apis[1], chatId, user.AccessToken);
            var snapshot = await late.WaitForAsync(_ => true);
            Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("status"));
            Assert.That(snapshot.GetProperty("text").GetString(), Does.StartWith("one two"));

            using var cancel = await user.At(1).PostAsync($"api/v1/sessions/{chatId}/cancel", null);
            var body = await cancel.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
            Assert.That(body.GetProperty("cancelled").GetBoolean(), Is.True);
            Assert.That(body.GetProperty("requestId").GetGuid(), Is.EqualTo(requestId));

            await stream.WaitForAsync(e => e.GetProperty("type").GetString() == "status" && e.GetProperty("status").GetString() == "cancelled");
            var kept = await stream.WaitForAsync(IsAnswer);
            var text = kept.GetProperty("message").GetProperty("content").GetString()!;
            Assert.That(LongReply, Does.StartWith(text).And.Not.EqualTo(text), "the part produced before the cancel is kept");
            Assert.That(await Cluster.QueryAsync<string>("SELECT status FROM relay_requests WHERE id = @id", new { id = requestId }),
                Is.EqualTo("cancelled"));
            Assert.That(SpinWait.SpinUntil(() => Cluster.Engine.Cancellations > cancelledBefore, TimeSpan.FromSeconds(10)), Is.True,
                "the server bot sent the cancel envelope and the client bot stopped the engine");

            // Nothing runs any more: the chat takes a new message.
            Echo();
            var (again, answer) = await user.SendAsync(1, chatId, "and now briefly", wait: true);
            Assert.That(again, Is.EqualTo(HttpStatusCode.OK), answer.ToString());
        }
        finally
        {
            Echo();
        }
    }

    [Test]
    public async Task WithTheClientBotOffline_TheFallbackAnswers_AndStatusOnEveryInstanceSaysSo()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        var chatId = await user.CreateSessionAsync();
        await Cluster.StopClientBotAsync();
        try
        {
            await Cluster.WaitForWorkersAsync(online: false);

            var (status, answer) = await user.SendAsync(1, chatId, "is anybody there?", wait: true);

            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), answer.ToString());
            Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("notice"));
            Assert.That(Cluster.Engine.TimesAsked("is anybody there?"), Is.Zero);
            var statusBody = await user.At(0).GetFromJsonAsync<JsonElement>("api/v1/status");
            Assert.That(statusBody.GetProperty("summary").GetString(), Does.StartWith("No model worker is online"));
        }
        finally
        {
            await Cluster.StartClientBotAsync();
        }
    }

    [Test]
    public async Task ClosingAChat_StoresItsTranscriptInS3_WithALinkThatWorks()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis);
        var chatId = await user.CreateSessionAsync(at: 0);
        var (status, _) = await user.SendAsync(0, chatId, "remember this", wait: true);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));

        using var closed = await user.At(1).DeleteAsync($"api/v1/sessions/{chatId}");
        var stored = await closed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(closed.IsSuccessStatusCode, Is.True, stored.ToString());

        using var http = new HttpClient();
        var transcript = await http.GetStringAsync(stored.GetProperty("transcript").GetProperty("jsonUrl").GetString());
        Assert.That(transcript, Does.Contain("remember this").And.Contain("Echo: remember this"));
    }
}

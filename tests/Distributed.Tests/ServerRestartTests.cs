using System.Diagnostics;
using System.Net;
using System.Text.Json;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Infrastructure.Tests.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Redis;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Redis, then PostgreSQL, dies in the middle of a distributed run and comes back on the same port (servers of this
/// fixture's own, so no other test is disturbed), while both API instances, the server bot and the client bot keep
/// running. API #1 is configured to fail open (<c>Cache:Redis:FailMode=Open</c>), API #2 to fail closed.
/// <para>Redis — how "no message lost" is checked: every send an instance accepted (202, or 200 with the answer) before,
/// during and after the outage has its user message stored, its request completed and exactly one stored answer, and
/// the model was asked exactly once for it; a send refused during the outage left nothing behind. "Recovers by
/// itself" means without a restart of any process: the fail-closed instance accepts sends again, the shared per-user
/// bucket is again exact across both instances (which needs Redis), and a stream opened at API #2 before the outage
/// delivers answers again without reconnecting.</para>
/// </summary>
[NonParallelizable]
public sealed class ServerRestartTests : ClusterFixture
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(45);

    private OwnRedisServer _redis = null!;
    private OwnPostgresServer _postgres = null!;

    protected override async Task<ClusterOptions> StartingAsync()
    {
        _redis = Own(new OwnRedisServer());
        await _redis.StartAsync();
        _postgres = Own(await OwnPostgresServer.StartAsync());
        return new ClusterOptions
        {
            Redis = _redis.Endpoint,
            Postgres = _postgres.ConnectionString,
            ApiSettings = i => new Dictionary<string, string>
            {
                ["Cache__Redis__FailMode"] = i == 0 ? "Open" : "Closed",
                // Each instance says when its connection to Redis is back (the test waits for API #1's).
                ["Logging__LogLevel__MeatLizard.Infrastructure.Redis.RedisConnection"] = "Information",
            },
        };
    }

    [Test]
    public async Task RedisRestartMidRun_LosesNoMessage_HonoursEachFailMode_AndEveryHostRecoversByItself()
    {
        using var user = await ApiUser.SignUpAsync(Cluster.Apis, at: 0);
        var followed = await user.CreateSessionAsync(at: 1);
        var other = await user.CreateSessionAsync(at: 1);
        var sessions = new List<Guid> { followed, other };
        var accepted = new List<string>();
        await using var stream = await SseStream.OpenAsync(Cluster.Apis[1], followed, user.AccessToken);

        // Before: an answer through Redis to the other instance's stream.
        await SendAndExpectAnswerAsync(user, 0, followed, "before the outage", accepted);
        await stream.WaitForAsync(e => IsAnswerTo(e, "before the outage"));

        _redis.Kill();

        // During: API #1 fails open (the send is accepted, and ?wait=true still returns the answer, read from the
        // database since no event can come); API #2 fails closed (429, and nothing is stored).
        var clock = Stopwatch.StartNew();
        await SendAndExpectAnswerAsync(user, 0, followed, "during the outage", accepted);
        var answeredDuringIn = clock.Elapsed;
        await TestContext.Out.WriteLineAsync($"answered during the outage in {answeredDuringIn.TotalMilliseconds:F0} ms");
        var (refused, refusal) = await user.SendAsync(1, other, "refused while Redis is down");
        var openLogged = await Cluster.ApiProcesses[0].PrintsAsync(
            "Redis unreachable during rate-limit: allowed (fail open)", TimeSpan.FromSeconds(10));
        var closedLogged = await Cluster.ApiProcesses[1].PrintsAsync(
            "Redis unreachable during rate-limit: refused (fail closed)", TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(refused, Is.EqualTo(HttpStatusCode.TooManyRequests), refusal.ToString());
            Assert.That(answeredDuringIn, Is.LessThan(TimeSpan.FromSeconds(15)), "an answer during the outage comes without its event");
            Assert.That(openLogged, Is.True, "API #1 logs that it let the send through without Redis");
            Assert.That(closedLogged, Is.True, "API #2 logs that it refused the send without Redis");
        });

        await _redis.StartAsync();

        // After: the fail-closed instance takes sends again once its connection is back (no process restarted).
        var recovery = Stopwatch.StartNew();
        HttpStatusCode status;
        JsonElement body;
        do
        {
            (status, body) = await user.SendAsync(1, other, $"after the restart {recovery.ElapsedMilliseconds}", wait: true);
            if (status != HttpStatusCode.TooManyRequests)
            {
                break;
            }

            await Task.Delay(250);
        }
        while (recovery.Elapsed < Recovery);

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), $"API #2 accepts sends again within {Recovery.TotalSeconds} s: {body}");
        accepted.Add(body.GetProperty("content").GetString()!["Echo: ".Length..]);
        await TestContext.Out.WriteLineAsync($"API #2 accepted a send {recovery.ElapsedMilliseconds} ms after Redis returned");

        // The stream opened at API #2 before the outage may have missed what was published while Redis was away (an
        // answer stored meanwhile would never show on it): it is closed once the instance's connection is back, so its
        // client reconnects and reads what is stored. A stream opened again delivers: the instance subscribed again by
        // itself.
        var closed = await Task.WhenAny(stream.Ended, Task.Delay(Recovery)) == stream.Ended;
        Assert.That(closed, Is.True, $"the stream opened before the outage is closed within {Recovery.TotalSeconds} s of Redis's return");
        await using var reopened = await SseStream.OpenAsync(Cluster.Apis[1], followed, user.AccessToken);
        var streamedAgain = false;
        for (var attempt = 0; attempt < 5 && !streamedAgain; attempt++)
        {
            var prompt = $"streamed after the restart {attempt}";
            await SendAndExpectAnswerAsync(user, 0, followed, prompt, accepted);
            try
            {
                await reopened.WaitForAsync(e => IsAnswerTo(e, prompt), TimeSpan.FromSeconds(3));
                streamedAgain = true;
            }
            catch (OperationCanceledException)
            {
            }
        }

        Assert.That(streamedAgain, Is.True, "a stream opened after the outage receives answers");

        // The shared bucket is enforced by Redis again: exactly the burst, across both instances — once API #1 runs commands
        // on Redis again too. Each instance reconnects by itself (API #2 being back says nothing of API #1), and API #1
        // fails open, so none of its answers shows when: its log does (a CI run sent the burst before it was back, and
        // API #1 let all its sends through: 9 of 9 accepted).
        var reconnected = await Cluster.ApiProcesses[0].PrintsAsync($"Redis Interactive connection to {_redis.Endpoint} restored", Recovery);
        await TestContext.Out.WriteLineAsync($"API #1 used Redis again {recovery.ElapsedMilliseconds} ms after Redis returned");
        Assert.That(reconnected, Is.True, $"API #1 uses Redis again within {Recovery.TotalSeconds} s of its return");
        using var burster = await ApiUser.SignUpAsync(Cluster.Apis, at: 1);
        var burstSessions = await Task.WhenAll(Enumerable.Range(0, Cluster.UserBurst + 3).Select(i => burster.CreateSessionAsync(at: i % 2)));
        sessions.AddRange(burstSessions);
        var burst = await Task.WhenAll(burstSessions.Select((chatId, i) => SendRecordingAsync(burster, i % 2, chatId, $"burst {i} {Guid.NewGuid():N}")));
        Assert.That(burst.Count(b => b.Status == HttpStatusCode.Accepted), Is.EqualTo(Cluster.UserBurst),
            string.Join(", ", burst.Select(b => b.Status)));
        accepted.AddRange(burst.Where(b => b.Status == HttpStatusCode.Accepted).Select(b => b.Prompt));

        // Nothing lost, nothing twice.
        var ids = sessions.ToArray();
        var unfinished = Stopwatch.StartNew();
        while (await Cluster.QueryAsync<long>(
                   "SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids) AND status IN ('pending', 'dispatched', 'streaming')",
                   new { ids }) > 0 && unfinished.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(200);
        }

        var stored = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages WHERE role = 'user' AND session_id = ANY(@ids)", new { ids });
        var completed = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests WHERE status = 'completed' AND session_id = ANY(@ids)", new { ids });
        var answered = await Cluster.QueryAsync<long>(
            "SELECT count(DISTINCT request_id) FROM messages WHERE role = 'assistant' AND session_id = ANY(@ids)", new { ids });
        var answers = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND session_id = ANY(@ids)", new { ids });
        var refusedStored = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages WHERE content = 'refused while Redis is down'");
        Assert.Multiple(() =>
        {
            Assert.That(stored, Is.EqualTo(accepted.Count), "every accepted message is stored, and only those");
            Assert.That(completed, Is.EqualTo(accepted.Count), "every accepted message's request completed");
            Assert.That(answered, Is.EqualTo(accepted.Count), "every accepted message has an answer");
            Assert.That(answers, Is.EqualTo(accepted.Count), "no message was answered twice");
            Assert.That(accepted.Select(Cluster.Engine.TimesAsked), Is.All.EqualTo(1), "the model was asked once per message");
            Assert.That(refusedStored, Is.Zero, "a refused send leaves nothing behind");
        });
    }

    /// <summary>
    /// How "no message lost" is checked: users send messages through both instances, one every 150 ms, and PostgreSQL
    /// is restarted (fast shutdown: every connection is cut) after a third of them were accepted. A send that fails is
    /// retried, as a client would. Afterwards every accepted message (202) is stored with its request, and every request
    /// of these chats — also one whose 202 was lost in the restart — finished with exactly one stored answer; the model
    /// was asked at most once per request. No process is restarted: the API instances and the server bot reconnect by
    /// themselves.
    /// </summary>
    [Test]
    public async Task PostgresRestartMidRun_LosesNoMessage_AndAnswersNothingTwice()
    {
        const int users = 4;
        const int messagesEach = 5; // within the per-user burst
        var people = await Task.WhenAll(Enumerable.Range(0, users).Select(u => ApiUser.SignUpAsync(Cluster.Apis, at: u % 2)));
        var chats = await Task.WhenAll(people.Select(async person =>
            await Task.WhenAll(Enumerable.Range(0, messagesEach).Select(m => person.CreateSessionAsync(at: m % 2)))));
        var accepted = new System.Collections.Concurrent.ConcurrentBag<string>();
        var storedEarlier = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failureStatuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        var prompts = new List<string>();

        var producer = Task.Run(async () =>
        {
            for (var m = 0; m < messagesEach; m++)
            {
                for (var u = 0; u < users; u++)
                {
                    var prompt = $"pg restart u{u} m{m} {Guid.NewGuid():N}";
                    prompts.Add(prompt);
                    var deadline = Stopwatch.StartNew();
                    while (true)
                    {
                        var instance = (u + m) % 2;
                        var (status, body) = await SendOrFailAsync(people[u], instance, chats[u][m], prompt);
                        if (status == HttpStatusCode.Accepted)
                        {
                            accepted.Add(prompt);
                            break;
                        }

                        failures.Add($"API #{instance + 1}: {(int)status} {body}");
                        failureStatuses.Add(status);
                        if (status == HttpStatusCode.Conflict)
                        {
                            storedEarlier.Add(prompt); // an earlier attempt committed, but its 202 was lost in the restart
                            break;
                        }

                        if (deadline.Elapsed > Recovery)
                        {
                            break;
                        }

                        await Task.Delay(250);
                    }

                    await Task.Delay(150);
                }
            }
        });

        while (accepted.Count < users * messagesEach / 3 && !producer.IsCompleted)
        {
            await Task.Delay(20);
        }

        await _postgres.RestartAsync();
        await producer;
        await TestContext.Out.WriteLineAsync(
            $"{accepted.Count} sends accepted; {failures.Count} failed during the restart and were retried:{Environment.NewLine}" +
            string.Join(Environment.NewLine, failures.Select(f => f.Length > 160 ? f[..160] : f)));

        var ids = chats.SelectMany(c => c).ToArray();
        var unfinished = Stopwatch.StartNew();
        while (await Cluster.QueryAsync<long>(
                   "SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids) AND status IN ('pending', 'dispatched', 'streaming')",
                   new { ids }) > 0 && unfinished.Elapsed < TimeSpan.FromSeconds(90))
        {
            await Task.Delay(200);
        }

        var acceptedArray = accepted.Concat(storedEarlier).ToArray();
        var requests = await Cluster.QueryAsync<long>("SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids)", new { ids });
        var acceptedStored = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages m JOIN relay_requests r ON r.user_message_id = m.id WHERE m.content = ANY(@acceptedArray)",
            new { acceptedArray });
        var finishedWithOneAnswer = await Cluster.QueryAsync<long>(
            "SELECT count(*) FROM relay_requests r WHERE r.session_id = ANY(@ids) AND r.status IN ('completed', 'fallback') " +
            "AND (SELECT count(*) FROM messages a WHERE a.request_id = r.id AND a.role = 'assistant') = 1", new { ids });
        Assert.Multiple(() =>
        {
            Assert.That(acceptedArray, Has.Length.EqualTo(users * messagesEach), "every message was eventually accepted");
            Assert.That(acceptedStored, Is.EqualTo(acceptedArray.Length), "every accepted message is stored with its request");
            Assert.That(finishedWithOneAnswer, Is.EqualTo(requests), "every request finished with exactly one answer");
            Assert.That(prompts.Sum(Cluster.Engine.TimesAsked), Is.LessThanOrEqualTo(requests), "the model was asked at most once per request");
            Assert.That(failureStatuses, Has.None.EqualTo(HttpStatusCode.InternalServerError),
                "a send refused while the database restarts is a 503 to retry, never a 500");
        });
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendOrFailAsync(ApiUser user, int at, Guid chatId, string prompt)
    {
        try
        {
            var (status, body) = await user.SendAsync(at, chatId, prompt);
            return (status, body.ValueKind == JsonValueKind.Undefined ? "" : body.ToString());
        }
        catch (HttpRequestException ex)
        {
            return (HttpStatusCode.ServiceUnavailable, ex.Message);
        }
    }

    private static bool IsAnswerTo(JsonElement e, string prompt) =>
        e.GetProperty("type").GetString() == "message"
        && e.GetProperty("message").GetProperty("content").GetString() == $"Echo: {prompt}";

    private static async Task SendAndExpectAnswerAsync(ApiUser user, int at, Guid chatId, string prompt, List<string> accepted)
    {
        var (status, answer) = await user.SendAsync(at, chatId, prompt, wait: true);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), $"{prompt}: {answer}");
        accepted.Add(prompt);
        Assert.That(answer.GetProperty("content").GetString(), Is.EqualTo($"Echo: {prompt}"));
        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"));
    }

    private static async Task<(HttpStatusCode Status, string Prompt)> SendRecordingAsync(ApiUser user, int at, Guid chatId, string prompt) =>
        ((await user.SendAsync(at, chatId, prompt)).Status, prompt);
}

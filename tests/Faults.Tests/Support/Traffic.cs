using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using MeatLizard.Distributed.Tests.Support;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>
/// The users of a fault test: several users with several chats each, sending through both API instances as web
/// clients do. A send that gets no answer (the instance died, the connection broke) or a 409 (the chat is still
/// answering) is sent again later with a new text, as a person would; only a 2xx counts as accepted. Every text is
/// unique, so what the database holds can be matched to what was accepted. Beside them, OpenAI clients may send
/// one-question chat completions, streamed and not by turns (<see cref="OpenAiCaller"/>), whose chats are checked alike;
/// and some web chats may be followed on their live stream from before their first send (<see cref="AnswerFollower"/>),
/// each accepted message's answer then checked as its follower saw it (<see cref="JudgeFollowersAsync"/>).
/// </summary>
public sealed partial class Traffic : IDisposable
{
    private readonly Cluster _cluster;
    private readonly List<(ApiUser User, Guid Chat)> _chats = [];
    private readonly List<OpenAiCaller> _callers = [];
    private readonly Dictionary<int, AnswerFollower> _followers = [];
    private readonly Dictionary<(bool Reconnected, AnswerSeen Seen), int> _answersSeen = [];
    private readonly ConcurrentBag<string> _accepted = [];
    private readonly string _label;
    private readonly string _padding;
    private int _attempts;

    private Traffic(Cluster cluster, string label, int padding)
    {
        _cluster = cluster;
        _label = label;
        // Random, so that no compression makes the envelope short again.
        _padding = padding > 0 ? " " + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(padding / 2)) : "";
    }

    /// <summary>How many sends got a 2xx.</summary>
    public int Accepted => _accepted.Count;

    /// <summary>The web chats (the OpenAI clients' chats are found in the database: <see cref="AllChatsAsync"/>).</summary>
    public IReadOnlyList<Guid> Chats => [.. _chats.Select(c => c.Chat)];

    /// <summary>
    /// How the followed chats' accepted messages were answered as their followers saw them (<see cref="AnswerSeen"/>), by
    /// whether the follower's stream broke between the send and the answer; filled by <see cref="JudgeFollowersAsync"/>.
    /// </summary>
    public IReadOnlyDictionary<(bool Reconnected, AnswerSeen Seen), int> AnswersSeen => _answersSeen;

    /// <summary>
    /// Signs up <paramref name="users"/> users with <paramref name="chatsEach"/> chats each, across both instances; each
    /// text is made <paramref name="padding"/> characters longer (long texts travel the relay as attachments); and
    /// <paramref name="openAiCallers"/> OpenAI clients, each with one completion in flight per round; and with
    /// <paramref name="followEvery"/> above 0, every so many chats (the first, then each <paramref name="followEvery"/>th)
    /// followed on its live stream from now on, as the web app follows the open chat.
    /// </summary>
    public static async Task<Traffic> PrepareAsync(Cluster cluster, string label, int users = 4, int chatsEach = 6,
        int padding = 0, int openAiCallers = 0, int followEvery = 0)
    {
        // The previous fault (an outage, a kill) may still keep the model host from the server: a round sent before it
        // is back would be answered by notices, and never be seen with the host.
        await cluster.WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(90));
        var traffic = new Traffic(cluster, label, padding);
        for (var u = 0; u < users; u++)
        {
            var user = await ApiUser.SignUpAsync(cluster.Apis, at: u % 2);
            for (var c = 0; c < chatsEach; c++)
            {
                traffic._chats.Add((user, await user.CreateSessionAsync(at: (u + c) % 2)));
            }
        }

        for (var c = 0; c < openAiCallers; c++)
        {
            traffic._callers.Add(await OpenAiCaller.SignUpAsync(cluster.Apis, at: c % 2));
        }

        for (var i = 0; followEvery > 0 && i < traffic._chats.Count; i += followEvery)
        {
            var (user, chat) = traffic._chats[i];
            traffic._followers[i] = await AnswerFollower.StartAsync(cluster.Apis, user.AccessToken, chat, i, at: i % 2);
        }

        return traffic;
    }

    /// <summary>
    /// One message in every chat at once (or in <paramref name="chats"/> alone), and a completion from every OpenAI
    /// client (not with <paramref name="chats"/>): as many messages in flight as there are chats and clients.
    /// </summary>
    public async Task SendRoundAsync(string round, TimeSpan? keepTryingFor = null, Range? chats = null)
    {
        var (first, count) = (chats ?? Range.All).GetOffsetAndLength(_chats.Count);
        var keepTrying = keepTryingFor ?? TimeSpan.FromSeconds(90);
        await Task.WhenAll(_chats.Skip(first).Take(count)
            .Select((chat, i) => SendUntilAcceptedAsync(chat.User, chat.Chat, first + i, round, keepTrying))
            .Concat(chats is null ? _callers.Select((caller, i) => CompleteUntilTakenAsync(caller, i, round, keepTrying)) : []));
    }

    /// <summary>The web chats and the chats the OpenAI clients' completions started.</summary>
    private async Task<Guid[]> AllChatsAsync()
    {
        if (_callers.Count == 0)
        {
            return [.. Chats];
        }

        await using var connection = new NpgsqlConnection(_cluster.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT id FROM chat_sessions WHERE owner_id = ANY(@owners)", connection);
        read.Parameters.AddWithValue("owners", _callers.Select(c => c.UserId).ToArray());
        var ids = new List<Guid>(Chats);
        await using var rows = await read.ExecuteReaderAsync();
        while (await rows.ReadAsync())
        {
            ids.Add(rows.GetGuid(0));
        }

        return [.. ids];
    }

    /// <summary>
    /// Sends until a 2xx: a refused send (409 while the chat answers, 5xx, 429, no connection) is tried again a moment
    /// later with a new text, alternating the instances.
    /// </summary>
    private async Task SendUntilAcceptedAsync(ApiUser user, Guid chat, int index, string round, TimeSpan keepTryingFor)
    {
        var clock = Stopwatch.StartNew();
        var refusals = new List<string>();
        var follower = _followers.GetValueOrDefault(index);
        for (var attempt = 0; ; attempt++)
        {
            var text = $"{_label} {round} chat {index} try {attempt} {Guid.NewGuid():N}{_padding}";
            Interlocked.Increment(ref _attempts);
            try
            {
                var connection = follower?.Connection ?? 0;
                var (status, body) = await user.SendAsync((index + attempt) % 2, chat, text);
                if ((int)status is >= 200 and < 300)
                {
                    _accepted.Add(text);
                    follower?.Expect(body.GetProperty("requestId").GetGuid(), connection);
                    return;
                }

                refusals.Add(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (status is not (HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests) && (int)status < 500)
                {
                    Assert.Fail($"A send in chat {index} got {(int)status}, which no fault explains.");
                }
            }
            catch (HttpRequestException e)
            {
                refusals.Add(e.HttpRequestError.ToString());
            }
            catch (TaskCanceledException)
            {
                refusals.Add("timeout");
            }

            if (clock.Elapsed > keepTryingFor)
            {
                Assert.Fail($"Chat {index} refused messages for {clock.Elapsed.TotalSeconds:F0} s: {string.Join(", ", refusals.TakeLast(10))}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>
    /// Waits until some request of these chats is with its model host (dispatched or streaming: mid-answer) and at least
    /// <paramref name="answered"/> are answered. (A host gets no more requests than it has slots, and the test model
    /// answers in a blink: its first piece and its final often arrive together, so "streaming" alone is rarely seen.)
    /// </summary>
    public async Task WaitUntilMidAnswerAsync(int answered = 1, TimeSpan? within = null)
    {
        var ids = Chats.ToArray();
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var streaming = await _cluster.QueryAsync<long>(
                "SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids) AND status IN ('dispatched', 'streaming')",
                new { ids });
            var done = await _cluster.QueryAsync<long>(
                "SELECT count(*) FROM messages WHERE session_id = ANY(@ids) AND role = 'assistant'", new { ids });
            if (streaming > 0 && done >= answered)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"No answer was with its model host within the wait ({done} answered).{Environment.NewLine}{_cluster.Diagnostics}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>
    /// The end of a fault row: waits for every request to settle (up to <paramref name="blockedAtMost"/> and 15 s more),
    /// then checks that nothing was lost or duplicated and no chat stayed blocked longer than that.
    /// </summary>
    public async Task<FaultOutcome> FinishAsync(string fault, TimeSpan blockedAtMost)
    {
        await WaitUntilSettledAsync(blockedAtMost + TimeSpan.FromSeconds(15));
        var outcome = await CheckAsync(fault);
        outcome.AssertNothingLost(blockedAtMost, _cluster.Diagnostics);
        return outcome;
    }

    /// <summary>Waits (up to <paramref name="within"/>) until every request of these chats has finished.</summary>
    public async Task WaitUntilSettledAsync(TimeSpan within)
    {
        var ids = await AllChatsAsync();
        var clock = Stopwatch.StartNew();
        while (await _cluster.QueryAsync<long>(
                   "SELECT count(*) FROM relay_requests WHERE session_id = ANY(@ids) AND status IN ('pending', 'dispatched', 'streaming')",
                   new { ids }) > 0 && clock.Elapsed < within)
        {
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// How each followed chat's accepted messages were answered as its follower saw them, once the requests have settled:
    /// the followers are given <paramref name="within"/> more to see what they have not (a stream that broke reconnects
    /// within 10 s), then closed, and an answer never seen is looked up in the database. Returns each answer the database
    /// holds that its follower never saw (a follower-visible loss), naming the chat, the request and the stream's history.
    /// </summary>
    public async Task<IReadOnlyList<string>> JudgeFollowersAsync(TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (_followers.Values.Any(f => !f.SawAll) && clock.Elapsed < within)
        {
            await Task.Delay(200);
        }

        await Task.WhenAll(_followers.Values.Select(f => f.StopAsync()));
        var unseen = _followers.Values
            .SelectMany(f => f.Expected.Keys.Where(request => f.SeenFor(request) is null).Select(request => (Follower: f, Request: request)))
            .ToList();
        var stored = new Dictionary<Guid, (string Source, string At)>();
        await using (var connection = new NpgsqlConnection(_cluster.DatabaseConnectionString))
        {
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand(
                "SELECT request_id, source, to_char(created_at, 'HH24:MI:SS.MS') FROM messages WHERE role = 'assistant' AND request_id = ANY(@ids)",
                connection);
            read.Parameters.AddWithValue("ids", unseen.Select(u => u.Request).ToArray());
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                stored[rows.GetGuid(0)] = (rows.GetString(1), rows.GetString(2));
            }
        }

        var losses = new List<string>();
        foreach (var follower in _followers.Values)
        {
            foreach (var (request, connectionAtSend) in follower.Expected)
            {
                var seen = follower.SeenFor(request);
                var reconnected = (seen?.Connection ?? follower.Connection) > connectionAtSend;
                var kind = seen switch
                {
                    { FromPage: true } => AnswerSeen.InPageOnReconnect,
                    { Source: "model" } => AnswerSeen.Model,
                    not null => AnswerSeen.Notice,
                    null when stored.ContainsKey(request) => AnswerSeen.Unseen,
                    null => AnswerSeen.Unanswered,
                };
                _answersSeen[(reconnected, kind)] = _answersSeen.GetValueOrDefault((reconnected, kind)) + 1;
                if (kind == AnswerSeen.Unseen)
                {
                    var (source, at) = stored[request];
                    losses.Add($"{_label}: chat {follower.Index} ({follower.Chat}), request {request}: its {source} answer stored at {at} never reached the chat's follower (sent on connection #{connectionAtSend}; the stream: {follower.History})");
                }
            }
        }

        foreach (var loss in losses)
        {
            await TestContext.Out.WriteLineAsync($"follower-visible loss: {loss}");
        }

        return losses;
    }

    /// <summary>
    /// The loss check, read from the database: every accepted text is stored once; every stored user message of these
    /// chats (also one whose 2xx was lost with a dying instance) has a finished request and exactly one answer, counted
    /// over all its requests (two answers to one message are a duplicate whatever requests wrote them), and no answer
    /// is stored without a request.
    /// </summary>
    public async Task<FaultOutcome> CheckAsync(string fault)
    {
        var ids = await AllChatsAsync();
        await using var connection = new NpgsqlConnection(_cluster.DatabaseConnectionString);
        await connection.OpenAsync();

        var stored = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var read = new NpgsqlCommand(
                         "SELECT content FROM messages WHERE role = 'user' AND session_id = ANY(@ids)", connection))
        {
            read.Parameters.AddWithValue("ids", ids);
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                var content = rows.GetString(0);
                stored[content] = stored.GetValueOrDefault(content) + 1;
            }
        }

        var requests = new List<(string Status, int Answers, string[] Sources, TimeSpan? Open, RequestTimes? Times)>();
        await using (var read = new NpgsqlCommand(
                         """
                         SELECT r.status, count(a.id), coalesce(array_agg(a.source) FILTER (WHERE a.id IS NOT NULL), '{}'),
                                r.finished_at - r.created_at, extract(epoch FROM r.created_at),
                                extract(epoch FROM r.dispatched_at), extract(epoch FROM r.finished_at)
                         FROM messages u
                         LEFT JOIN LATERAL (SELECT * FROM relay_requests last WHERE last.user_message_id = u.id
                                            ORDER BY last.created_at DESC LIMIT 1) r ON true
                         LEFT JOIN relay_requests any_request ON any_request.user_message_id = u.id
                         LEFT JOIN messages a ON a.request_id = any_request.id AND a.role = 'assistant'
                         WHERE u.role = 'user' AND u.session_id = ANY(@ids)
                         GROUP BY u.id, r.status, r.finished_at, r.created_at, r.dispatched_at
                         """, connection))
        {
            read.Parameters.AddWithValue("ids", ids);
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                requests.Add((
                    rows.IsDBNull(0) ? "none" : rows.GetString(0),
                    (int)rows.GetInt64(1),
                    rows.GetFieldValue<string[]>(2),
                    rows.IsDBNull(3) ? null : rows.GetTimeSpan(3),
                    rows.IsDBNull(4) || rows.IsDBNull(6)
                        ? null
                        : new RequestTimes((double)rows.GetDecimal(4), rows.IsDBNull(5) ? null : (double)rows.GetDecimal(5),
                            (double)rows.GetDecimal(6))));
            }
        }

        // An answer stored with no request cannot be told to answer any message: in these chats every answer comes
        // through a request, so such a row is one answer too many.
        var orphans = (int)await _cluster.QueryAsync<long>(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND request_id IS NULL AND session_id = ANY(@ids)", new { ids });

        // Where the slowest requests spent their time, for the test's output.
        await using (var read = new NpgsqlCommand(
                         """
                         SELECT status, coalesce(timeout_reason, '-'), attempts,
                                extract(epoch FROM dispatched_at - created_at), extract(epoch FROM acked_at - created_at),
                                extract(epoch FROM finished_at - created_at)
                         FROM relay_requests WHERE session_id = ANY(@ids)
                         ORDER BY finished_at - created_at DESC NULLS FIRST LIMIT 5
                         """, connection))
        {
            read.Parameters.AddWithValue("ids", ids);
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                await TestContext.Out.WriteLineAsync(
                    $"slow request: {rows.GetString(0)} ({rows.GetString(1)}), {rows.GetInt32(2)} attempts, dispatched +{Seconds(rows, 3)} s, acked +{Seconds(rows, 4)} s, finished +{Seconds(rows, 5)} s");
            }
        }

        // Why each notice: its request's end and timeline, for the test's output and a failed assertion's message.
        var notices = new List<string>();
        await using (var read = new NpgsqlCommand(
                         """
                         SELECT r.status, coalesce(r.timeout_reason, '-'), r.attempts,
                                extract(epoch FROM r.dispatched_at - r.created_at), extract(epoch FROM r.acked_at - r.created_at),
                                extract(epoch FROM r.finished_at - r.created_at), to_char(r.created_at, 'HH24:MI:SS.MS')
                         FROM relay_requests r JOIN messages a ON a.request_id = r.id AND a.role = 'assistant'
                         WHERE r.session_id = ANY(@ids) AND a.source <> 'model'
                         ORDER BY r.created_at
                         """, connection))
        {
            read.Parameters.AddWithValue("ids", ids);
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                var notice = $"notice: {rows.GetString(0)} ({rows.GetString(1)}), {rows.GetInt32(2)} attempts, created {rows.GetString(6)}, dispatched +{Seconds(rows, 3)} s, acked +{Seconds(rows, 4)} s, finished +{Seconds(rows, 5)} s";
                notices.Add(notice);
                await TestContext.Out.WriteLineAsync(notice);
            }
        }

        var accepted = _accepted.ToList();
        var outcome = new FaultOutcome(
            Fault: fault,
            Sent: accepted.Count,
            Stored: requests.Count,
            AnsweredByModel: requests.Count(r => r.Answers == 1 && r.Sources[0] == "model"),
            AnsweredByNotice: requests.Count(r => r.Answers == 1 && r.Sources[0] != "model"),
            Lost: accepted.Count(text => !stored.ContainsKey(text)) + requests.Count(r => r.Answers == 0),
            Duplicated: stored.Values.Sum(n => n - 1) + requests.Sum(r => Math.Max(0, r.Answers - 1)) + orphans,
            Unfinished: requests.Count(r => r.Status is "none" or "pending" or "dispatched" or "streaming"),
            LongestBlocked: requests.Select(r => r.Open ?? TimeSpan.MaxValue).DefaultIfEmpty(TimeSpan.Zero).Max(),
            LongestAfterDispatch: TimeSpan.FromSeconds(requests.Select(r => r.Times is { } t ? t.Finished - (t.Dispatched ?? t.Created) : 0)
                .DefaultIfEmpty(0).Max()),
            LongestQueueStall: RequestTimes.LongestQueueStall(requests.Select(r => r.Times).OfType<RequestTimes>().ToList()),
            // The work ahead of the last request of a round: the round's other requests, its chats' count, on the
            // host's slots, each taking a model answer's time at a host (from its sending to its finish; the 90th
            // percentile of this run's, so a loaded machine's slower answers count as they were).
            QueueWork: QueueWorkOf(Chats.Count + _callers.Count, requests.Where(r => r.Answers == 1 && r.Sources[0] == "model")
                .Select(r => r.Times).OfType<RequestTimes>().ToList()))
        {
            Notices = notices,
        };
        ReliabilityTable.Add(outcome);
        await TestContext.Out.WriteLineAsync($"{outcome} ({_attempts} sends tried)");
        return outcome;
    }

    /// <summary>How long <paramref name="ahead"/> requests take on <see cref="FaultCluster.Slots"/> slots, at the 90th percentile of these answers' time at a host.</summary>
    private static TimeSpan QueueWorkOf(int ahead, IReadOnlyList<RequestTimes> answered)
    {
        var times = answered.Where(t => t.Dispatched is not null).Select(t => t.Finished - t.Dispatched!.Value)
            .Order().ToList();
        var p90 = times.Count == 0 ? 0 : times[Math.Min(times.Count - 1, (int)Math.Ceiling(times.Count * 0.9) - 1)];
        return TimeSpan.FromSeconds(Math.Ceiling(ahead / (double)FaultCluster.Slots) * p90);
    }

    private static string Seconds(NpgsqlDataReader rows, int column) =>
        rows.IsDBNull(column) ? "-" : rows.GetDecimal(column).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var user in _chats.Select(c => c.User).Distinct())
        {
            user.Dispose();
        }

        foreach (var caller in _callers)
        {
            caller.Dispose();
        }

        foreach (var follower in _followers.Values)
        {
            follower.Dispose();
        }
    }
}

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
public sealed class Traffic : IDisposable
{
    private readonly Cluster _cluster;
    private readonly List<(ApiUser User, Guid Chat)> _chats = [];
    private readonly List<OpenAiCaller> _callers = [];
    private readonly ConcurrentDictionary<(bool Streamed, CompletionSeen Seen), int> _completions = new();
    private readonly Dictionary<int, AnswerFollower> _followers = [];
    private readonly Dictionary<(bool Reconnected, AnswerSeen Seen), int> _answersSeen = [];
    private readonly ConcurrentBag<string> _accepted = [];
    private readonly ConcurrentBag<string> _completionRefusals = [];
    private readonly ConcurrentBag<string> _completionErrors = [];
    private readonly ConcurrentDictionary<string, (bool Streamed, string Answer)> _completionAnswers = new(StringComparer.Ordinal);
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
    /// How the OpenAI clients' completions ended as they saw them, streamed or not: the model's whole answer, an error
    /// (a 503 or an error event: no model host answered), cut off (taken, then the connection broke), or refused.
    /// </summary>
    public IReadOnlyDictionary<(bool Streamed, CompletionSeen Seen), int> CompletionsSeen => _completions;

    /// <summary>The message of each completion seen as an error: refused with a 503, or taken and ended by an error event.</summary>
    public IReadOnlyCollection<string> CompletionErrors => _completionErrors;

    /// <summary>Why completions were refused (each try), as the status code and the error's message.</summary>
    public IReadOnlyCollection<string> CompletionRefusals => _completionRefusals;

    /// <summary>
    /// Asserts that no completion was refused for want of a model host: the hosts were there all along, only their
    /// heartbeats were hidden by the fault (the way to them out, or the store that lists them restarted), and a question
    /// then waits for them in the queue as a web send does.
    /// </summary>
    public void AssertNoCompletionRefusedForNoHost(string because) =>
        Assert.That(_completionRefusals.Where(r => r.Contains("No model host", StringComparison.Ordinal)), Is.Empty, because);

    /// <summary>
    /// Every completion taken was read to its end as the model's answer (none ended by an error event, as one did when a
    /// host stopped mid-answer and the answer was written again), and what each client read is the answer stored for its
    /// question: a stream that went on after a host stopped sent one answer, not the start of one and the end of another.
    /// </summary>
    /// <remarks>
    /// With <paramref name="oneWentOn"/>, a streamed completion must also have been asked again after reading some of its
    /// answer and have gone on from it: the fault did cut one mid-answer (<see cref="WaitUntilACompletionStreamsAsync"/>).
    /// </remarks>
    public async Task AssertCompletionsReadTheirStoredAnswersAsync(string because, bool oneWentOn = false)
    {
        var errors = _completions.Where(c => c.Key.Seen == CompletionSeen.Error).Sum(c => c.Value);
        await TestContext.Out.WriteLineAsync($"{_label}: {errors} completions ended by an error event");
        Assert.That(errors, Is.Zero, $"{because}: completions ended by an error event");

        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        var (askedAgain, continued) = (0, 0);
        await using var connection = new NpgsqlConnection(_cluster.DatabaseConnectionString);
        await connection.OpenAsync();
        await using (var read = new NpgsqlCommand(
                         """
                         SELECT u.content, a.content, r.attempts, r.answer_start IS NOT NULL FROM messages u
                         JOIN relay_requests r ON r.user_message_id = u.id
                         JOIN messages a ON a.request_id = r.id AND a.role = 'assistant'
                         WHERE u.role = 'user' AND u.content = ANY(@texts)
                         """, connection))
        {
            read.Parameters.AddWithValue("texts", _completionAnswers.Keys.ToArray());
            await using var rows = await read.ExecuteReaderAsync();
            while (await rows.ReadAsync())
            {
                stored[rows.GetString(0)] = rows.GetString(1);
                var streamed = _completionAnswers.TryGetValue(rows.GetString(0), out var seen) && seen.Streamed;
                if (rows.GetInt32(2) > 1 && streamed)
                {
                    (askedAgain, continued) = (askedAgain + 1, continued + (rows.GetBoolean(3) ? 1 : 0));
                }
            }
        }

        var differing = _completionAnswers
            .Where(c => stored.GetValueOrDefault(c.Key) != c.Value.Answer)
            .Select(c => $"{(c.Value.Streamed ? "streamed" : "whole")} completion '{c.Key}': read {c.Value.Answer.Length} characters, stored {stored.GetValueOrDefault(c.Key)?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}")
            .ToList();
        await TestContext.Out.WriteLineAsync(
            $"{_label}: {_completionAnswers.Count(c => c.Value.Streamed)} streamed and {_completionAnswers.Count(c => !c.Value.Streamed)} whole completions read to their end; {askedAgain} streamed ones asked again, {continued} of them going on from what was shown");
        Assert.That(differing, Is.Empty, $"{because}: what the OpenAI clients read is the stored answer");
        if (oneWentOn)
        {
            Assert.That(continued, Is.Positive, $"{because}: a streamed completion cut mid-answer went on from what it had read");
        }
    }

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

    /// <summary>A completion from every OpenAI client, and no web send: each until it is taken.</summary>
    public Task CompleteRoundAsync(string round) =>
        Task.WhenAll(_callers.Select((caller, i) => CompleteUntilTakenAsync(caller, i, round, TimeSpan.FromSeconds(90))));

    /// <summary>
    /// A completion until one is taken (a 2xx), every other completion sent streamed, alternating the instances; a
    /// refused one is sent again a moment later with a new text, as a client retries.
    /// </summary>
    private async Task CompleteUntilTakenAsync(OpenAiCaller caller, int index, string round, TimeSpan keepTryingFor)
    {
        var clock = Stopwatch.StartNew();
        var refusals = new List<string>();
        var stream = Interlocked.Increment(ref _rounds) % 2 == 0;
        for (var attempt = 0; ; attempt++)
        {
            var text = $"{_label} {round} completion {index} try {attempt} {Guid.NewGuid():N}{_padding}";
            Interlocked.Increment(ref _attempts);
            var (taken, seen, refusal, answer) = await caller.CompleteAsync((index + attempt) % 2, text, stream,
                reading => Interlocked.Add(ref _streamsReading, reading ? 1 : -1));
            _completions.AddOrUpdate((stream, seen), 1, (_, n) => n + 1);
            if (seen == CompletionSeen.Error)
            {
                _completionErrors.Add($"{(stream ? "streamed" : "whole")}: {refusal}");
            }

            if (taken)
            {
                _accepted.Add(text);
                if (answer is not null)
                {
                    _completionAnswers[text] = (stream, answer);
                }

                return;
            }

            refusals.Add(refusal!);
            _completionRefusals.Add(refusal!);
            if (refusal!.StartsWith("unexplained", StringComparison.Ordinal))
            {
                Assert.Fail($"Completion {index} got {refusal}, which no fault explains.");
            }

            if (clock.Elapsed > keepTryingFor)
            {
                Assert.Fail($"Completion {index} was refused for {clock.Elapsed.TotalSeconds:F0} s: {string.Join(", ", refusals.TakeLast(10))}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    private int _rounds;
    private int _streamsReading;

    /// <summary>
    /// Waits (up to <paramref name="within"/>) until a streamed completion is reading its answer: it has read the first
    /// words and the stream goes on. A fault injected then cuts a stream mid-answer.
    /// </summary>
    public async Task WaitUntilACompletionStreamsAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        while (Volatile.Read(ref _streamsReading) == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"No streamed completion was reading its answer within the wait.{Environment.NewLine}{_cluster.Diagnostics}");
            }

            await Task.Delay(5);
        }
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

/// <summary>When a finished request was created, last sent to a model host (if it was) and finished, in epoch seconds.</summary>
public sealed record RequestTimes(double Created, double? Dispatched, double Finished)
{
    /// <summary>
    /// The longest stretch during which some request waited to be sent to a host while no request was at a host: the
    /// queue standing still. Waiting behind busy slots is not counted; it is as long as the host is slow (24 requests
    /// on 4 slots take about 6 answers' time, several times that on a loaded machine), which no timeout bounds.
    /// </summary>
    public static TimeSpan LongestQueueStall(IReadOnlyList<RequestTimes> requests)
    {
        // Sweep the moments anything changes: +1 waiting at creation, waiting to working at dispatch, -1 working at
        // the finish (a request finished without being sent, by a notice, stops waiting then).
        var moments = new List<(double At, int Waiting, int Working)>();
        foreach (var r in requests)
        {
            moments.Add((r.Created, 1, 0));
            if (r.Dispatched is { } dispatched)
            {
                moments.Add((dispatched, -1, 1));
                moments.Add((Math.Max(dispatched, r.Finished), 0, -1));
            }
            else
            {
                moments.Add((r.Finished, -1, 0));
            }
        }

        var (waiting, working, stalledSince, longest) = (0, 0, (double?)null, 0.0);
        foreach (var group in moments.GroupBy(m => m.At).OrderBy(g => g.Key))
        {
            waiting += group.Sum(m => m.Waiting);
            working += group.Sum(m => m.Working);
            if (waiting > 0 && working == 0)
            {
                stalledSince ??= group.Key;
            }
            else if (stalledSince is { } since)
            {
                longest = Math.Max(longest, group.Key - since);
                stalledSince = null;
            }
        }

        return TimeSpan.FromSeconds(longest);
    }
}

/// <summary>
/// What a fault test measured: one row of docs/reliability.md. <paramref name="LongestBlocked"/>: the longest a request
/// kept its chat blocked (finished − created), queue included; <paramref name="LongestAfterDispatch"/>: the longest from
/// its (last) sending to a host to its finish, which the relay's timeouts bound; <paramref name="LongestQueueStall"/>:
/// see <see cref="RequestTimes.LongestQueueStall"/>.
/// </summary>
public sealed record FaultOutcome(
    string Fault, int Sent, int Stored, int AnsweredByModel, int AnsweredByNotice, int Lost, int Duplicated, int Unfinished,
    TimeSpan LongestBlocked, TimeSpan LongestAfterDispatch, TimeSpan LongestQueueStall, TimeSpan QueueWork)
{
    /// <summary>Each notice's request: its end, attempts and timeline (one line each).</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];

    /// <summary>
    /// Every answer is the model's. A failure names each notice's request last, after the processes' logs, so the tail
    /// of a long CI log still says why.
    /// </summary>
    public void AssertNoNotice(string why, string diagnostics) =>
        Assert.That(AnsweredByNotice, Is.Zero,
            $"{why}{Environment.NewLine}{diagnostics}{Environment.NewLine}{string.Join(Environment.NewLine, Notices)}");

    /// <summary>The checks every fault must pass; <paramref name="blockedAtMost"/> is what the configured timeouts allow.</summary>
    public void AssertNothingLost(TimeSpan blockedAtMost, string diagnostics)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Sent, Is.GreaterThanOrEqualTo(20), "at least 20 messages were accepted");
            Assert.That(Lost, Is.Zero, $"no accepted message is lost{Environment.NewLine}{diagnostics}");
            Assert.That(Duplicated, Is.Zero, "no message is stored or answered twice");
            Assert.That(Unfinished, Is.Zero, $"every request finished{Environment.NewLine}{diagnostics}");
            Assert.That(AnsweredByModel + AnsweredByNotice, Is.EqualTo(Stored), "every stored message has its one answer");
            // The timeouts bound what happens once a request is sent to a host, and how long a fault may keep the queue
            // from moving; not how long a request waits behind busy slots, which is as long as the host is slow.
            Assert.That(LongestAfterDispatch, Is.LessThanOrEqualTo(blockedAtMost),
                "no request stayed unanswered after its sending longer than the timeouts allow");
            Assert.That(LongestQueueStall, Is.LessThanOrEqualTo(blockedAtMost),
                "requests never waited while no host worked longer than the timeouts allow");
            // And from its creation: what the fault and the timeouts allow, plus the time the queue needs for the work
            // ahead of it — no request starved behind others served before it.
            Assert.That(LongestBlocked, Is.LessThanOrEqualTo(blockedAtMost + QueueWork),
                $"no chat stayed blocked longer than the fault and the timeouts allow plus the work ahead of it ({QueueWork.TotalSeconds:F1} s)");
        });
    }

    public override string ToString() =>
        $"{Fault}: sent {Sent}, stored {Stored}, model {AnsweredByModel}, notice {AnsweredByNotice}, lost {Lost}, " +
        $"duplicated {Duplicated}, unfinished {Unfinished}, longest blocked {LongestBlocked.TotalSeconds:F1} s " +
        $"(after sending {LongestAfterDispatch.TotalSeconds:F1} s, queue still {LongestQueueStall.TotalSeconds:F1} s, " +
        $"work ahead {QueueWork.TotalSeconds:F1} s)";
}

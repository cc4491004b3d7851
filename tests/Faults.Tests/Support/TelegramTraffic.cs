using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MeatLizard.Application.Channels;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Telegram.Tests.Fake;
using Npgsql;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>How a message said in a Telegram chat ended, as its person saw it, checked against the database.</summary>
public enum TelegramSeen
{
    /// <summary>One reply from the bot, its final text the model's answer the database holds for the message.</summary>
    Model,

    /// <summary>One reply, its final text the notice or fallback answer the database holds for the message (marked).</summary>
    Notice,

    /// <summary>
    /// One reply, and the database holds no such message: refused (a limit, the chat still answering, a fault), as a
    /// web send's 409 or 503; the person says a new one.
    /// </summary>
    Refused,

    /// <summary>The minute's <c>/reset</c> got its one reply.</summary>
    Command,

    /// <summary>No reply from the bot, or the database holds the message without an answer.</summary>
    Lost,

    /// <summary>More than one reply, or the database holds the message, or an answer to it, more than once.</summary>
    Duplicated,

    /// <summary>One reply, whose final text is not the answer the database holds (or which never stopped "writing").</summary>
    NotTheStoredAnswer,
}

/// <summary>
/// The soak's Telegram people: each writes to the bot in a private chat on the loopback Bot API
/// (<see cref="FakeTelegramServer"/>), which every server bot is configured for (<see cref="ServerBotSettings"/>; one
/// of them polls at a time). As a person does: a message, the bot's reply read once it is final (no longer "writing"),
/// then the next — after a refusal too, with a new text. Each minute starts over with <c>/reset</c> (a new chat, as the
/// web traffic's chats are new each minute) and ends with <see cref="JudgeAsync"/>: every message has exactly one reply,
/// whose final text is what the database holds for it. Texts are unique, so the database's rows are found by them.
/// </summary>
public sealed class TelegramTraffic : IAsyncDisposable
{
    /// <summary>How long a person waits for a reply before writing again anyway: longer than a chat may be blocked.</summary>
    private static readonly TimeSpan ReplyWait = FaultCluster.BlockedAtMost + TimeSpan.FromSeconds(10);

    /// <summary>Reading the reply before writing the next message.</summary>
    private static readonly TimeSpan ReadingTime = TimeSpan.FromSeconds(1);

    private readonly FakeTelegramServer _telegram;
    private readonly List<(FakeUser Person, FakeChat Chat)> _people = [];
    private readonly ConcurrentQueue<Said> _said = new();
    private int _conflictsBefore;

    private TelegramTraffic(FakeTelegramServer telegram)
    {
        _telegram = telegram;
    }

    /// <summary>The loopback Bot API with <paramref name="people"/> people, each in a private chat with the bot.</summary>
    public static async Task<TelegramTraffic> StartAsync(int people)
    {
        var traffic = new TelegramTraffic(await FakeTelegramServer.StartAsync());
        for (var i = 1; i <= people; i++)
        {
            var person = traffic._telegram.AddUser($"Soak person {i}");
            traffic._people.Add((person, traffic._telegram.PrivateChat(person)));
        }

        return traffic;
    }

    /// <summary>
    /// The server bots' Telegram settings (environment variables): the fake's token and address, the people's chats
    /// allowed, a short long-poll.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServerBotSettings => new Dictionary<string, string>
    {
        ["Telegram__BotToken"] = _telegram.Token,
        ["Telegram__ApiBaseUrl"] = _telegram.BaseUrl,
        ["Telegram__AllowedChatIds"] = string.Join(',', _people.Select(p => p.Chat.Id.ToString(CultureInfo.InvariantCulture))),
        ["Telegram__PollTimeoutSeconds"] = "1",
    };

    /// <summary>
    /// A new minute: each person says <c>/reset</c> (their next message starts a new chat) and reads the reply; the
    /// minute's 409s are counted from here.
    /// </summary>
    public async Task StartMinuteAsync()
    {
        _said.Clear();
        _conflictsBefore = _telegram.PollConflicts;
        await Task.WhenAll(_people.Select(p => SayAndReadAsync(p.Person, p.Chat, "/reset", command: true)));
    }

    /// <summary>Each person writes one message after another until <paramref name="until"/>, reading each reply first.</summary>
    public Task ChatAsync(string label, DateTime until) =>
        Task.WhenAll(_people.Select(async (p, index) =>
        {
            for (var n = 1; DateTime.UtcNow < until; n++)
            {
                await SayAndReadAsync(p.Person, p.Chat, $"{label} telegram {index} message {n} {Guid.NewGuid():N}", command: false);
                await Task.Delay(ReadingTime);
            }
        }));

    private async Task SayAndReadAsync(FakeUser person, FakeChat chat, string text, bool command)
    {
        var said = new Said(chat, _telegram.Say(person, chat, text), command);
        _said.Enqueue(said);
        var clock = Stopwatch.StartNew();
        while (FinalReply(said) is null && clock.Elapsed < ReplyWait)
        {
            await Task.Delay(100);
        }

        said.Waited = clock.Elapsed;
    }

    /// <summary>
    /// How each message of the minute ended: waits (up to <paramref name="within"/>) until every one has a final reply,
    /// then reads the database for each message's text (how often it is stored, and every answer over all its
    /// requests). Two pollers at once (a 409 ending a long poll) are allowed <paramref name="pollConflictsAllowed"/>
    /// times (see <see cref="TelegramOutcome.PollConflictsAllowed"/>).
    /// </summary>
    public async Task<TelegramOutcome> JudgeAsync(Cluster cluster, string fault, int pollConflictsAllowed, TimeSpan within)
    {
        var said = _said.ToList();
        var clock = Stopwatch.StartNew();
        while (said.Any(s => FinalReply(s) is null) && clock.Elapsed < within)
        {
            await Task.Delay(200);
        }

        var stored = await StoredAsync(cluster, [.. said.Where(s => !s.IsCommand).Select(s => s.Message.Text)]);
        var seen = new Dictionary<TelegramSeen, int>();
        var problems = new List<string>();
        foreach (var message in said)
        {
            var (kind, why) = Judge(message, stored.GetValueOrDefault(message.Message.Text, StoredMessage.None));
            seen[kind] = seen.GetValueOrDefault(kind) + 1;
            if (why is not null)
            {
                problems.Add($"{fault}: Telegram chat {message.Chat.Id} message {message.Message.MessageId}: {kind}, {why}");
            }
        }

        foreach (var problem in problems)
        {
            await NUnit.Framework.TestContext.Out.WriteLineAsync(problem);
        }

        var outcome = new TelegramOutcome(fault, seen,
            Stored: said.Count(s => !s.IsCommand && stored.GetValueOrDefault(s.Message.Text, StoredMessage.None).Messages > 0),
            LongestWait: said.Select(s => s.Waited).DefaultIfEmpty().Max(),
            PollConflicts: _telegram.PollConflicts - _conflictsBefore, pollConflictsAllowed)
        {
            Problems = problems,
        };
        await NUnit.Framework.TestContext.Out.WriteLineAsync(outcome.ToString());
        return outcome;
    }

    /// <summary>How one message ended, and why when it is a failure (counts and sources only: no text).</summary>
    private (TelegramSeen Kind, string? Why) Judge(Said said, StoredMessage stored)
    {
        var replies = Replies(said);
        var database = $"the database holds it {stored.Messages} time(s) with {stored.Answers.Count} answer(s) " +
                       $"({string.Join(", ", stored.Answers.Select(a => $"{a.Source}, {a.Content.Trim().Length} characters"))})";
        if (replies.Count == 0)
        {
            return (TelegramSeen.Lost, $"no reply; {database}");
        }

        if (replies.Count > 1)
        {
            return (TelegramSeen.Duplicated, $"{replies.Count} replies; {database}");
        }

        var shown = replies[0].Text;
        if (shown.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal))
        {
            return (TelegramSeen.NotTheStoredAnswer, $"the reply is still writing; {database}");
        }

        if (said.IsCommand)
        {
            return (TelegramSeen.Command, null);
        }

        if (stored.Messages == 0)
        {
            return (TelegramSeen.Refused, null);
        }

        if (stored.Messages > 1 || stored.Answers.Count > 1)
        {
            return (TelegramSeen.Duplicated, database);
        }

        if (stored.Answers.Count == 0)
        {
            return (TelegramSeen.Lost, $"the reply shows no stored answer; {database}");
        }

        // Telegram drops a message's surrounding white space; what a person reads is the rest.
        var (source, content) = stored.Answers[0];
        if (shown.Trim() != ChannelTexts.Marked(source, content).Trim())
        {
            return (TelegramSeen.NotTheStoredAnswer, $"the reply shows {shown.Trim().Length} characters; {database}");
        }

        return (source == "model" ? TelegramSeen.Model : TelegramSeen.Notice, null);
    }

    /// <summary>The bot's replies to the message (a long answer's further parts reply to the part before, not to it).</summary>
    private List<FakeMessage> Replies(Said said) =>
        [.. _telegram.BotMessages(said.Chat).Where(m => m.ReplyTo?.MessageId == said.Message.MessageId)];

    /// <summary>The bot's reply to the message once it no longer shows the "writing" mark; null until then.</summary>
    private FakeMessage? FinalReply(Said said) =>
        Replies(said).FirstOrDefault(m => !m.Text.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal));

    /// <summary>Each text's user messages and the answers to them over all their requests, as the database holds them.</summary>
    private static async Task<Dictionary<string, StoredMessage>> StoredAsync(Cluster cluster, string[] texts)
    {
        var messages = new Dictionary<string, HashSet<Guid>>(StringComparer.Ordinal);
        var answers = new Dictionary<string, List<(string Source, string Content)>>(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(cluster.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            """
            SELECT u.id, u.content, a.source, a.content
            FROM messages u
            LEFT JOIN relay_requests r ON r.user_message_id = u.id
            LEFT JOIN messages a ON a.request_id = r.id AND a.role = 'assistant'
            WHERE u.role = 'user' AND u.content = ANY(@texts)
            """, connection);
        read.Parameters.AddWithValue("texts", texts);
        await using var rows = await read.ExecuteReaderAsync();
        while (await rows.ReadAsync())
        {
            var text = rows.GetString(1);
            (messages.TryGetValue(text, out var ids) ? ids : messages[text] = []).Add(rows.GetGuid(0));
            if (!rows.IsDBNull(2))
            {
                (answers.TryGetValue(text, out var list) ? list : answers[text] = [])
                    .Add((rows.GetString(2), rows.IsDBNull(3) ? "" : rows.GetString(3)));
            }
        }

        return messages.ToDictionary(m => m.Key, m => new StoredMessage(m.Value.Count, answers.GetValueOrDefault(m.Key) ?? []));
    }

    public async ValueTask DisposeAsync() => await _telegram.DisposeAsync();

    /// <summary>A message a person said, and how long they waited for its final reply.</summary>
    private sealed record Said(FakeChat Chat, FakeMessage Message, bool IsCommand)
    {
        public TimeSpan Waited { get; set; }
    }

    private sealed record StoredMessage(int Messages, IReadOnlyList<(string Source, string Content)> Answers)
    {
        public static readonly StoredMessage None = new(0, []);
    }
}

/// <summary>
/// What one minute's Telegram chats measured: how each message said ended (<see cref="TelegramSeen"/>), how many the
/// database holds (<paramref name="Stored"/>: the messages not refused), the longest a person waited for a final reply,
/// and the long polls Telegram ended with 409 because a second poller came.
/// </summary>
/// <param name="PollConflictsAllowed">
/// How many 409s the minute's fault explains: one when it killed a server bot. One server bot polls at a time (the
/// duty lease) and a live one keeps its lease through the soak's faults (the database is away for seconds, a lease
/// lasts 15 s); but a server bot killed mid-poll leaves its long poll open at Telegram until the connection's end is
/// noticed, and the server bot taking over may poll first: that poll ends with a 409 nobody reads.
/// </param>
public sealed record TelegramOutcome(
    string Fault, IReadOnlyDictionary<TelegramSeen, int> Seen, int Stored, TimeSpan LongestWait, int PollConflicts,
    int PollConflictsAllowed)
{
    /// <summary>Each failure (lost, duplicated, not the stored answer): chat, message and what was seen (one line each).</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    public int Said => Seen.Values.Sum();

    public int Count(TelegramSeen kind) => Seen.GetValueOrDefault(kind);

    public override string ToString() =>
        $"{Fault}: Telegram said {Said} ({string.Join(", ", Seen.Select(s => $"{s.Key} {s.Value}"))}), stored {Stored}, " +
        $"longest wait {LongestWait.TotalSeconds:F1} s, 409s {PollConflicts} (allowed {PollConflictsAllowed})";
}

using System.Collections.Concurrent;
using System.Diagnostics;
using MeatLizard.Distributed.Tests.Support;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests.Support;
/// <summary>The OpenAI clients of a fault test: their completions, how they ended, and what they read.</summary>
public sealed partial class Traffic
{
    private readonly ConcurrentDictionary<(bool Streamed, CompletionSeen Seen), int> _completions = new();
    private readonly ConcurrentBag<string> _completionRefusals = [];
    private readonly ConcurrentBag<string> _completionErrors = [];
    private readonly ConcurrentDictionary<string, (bool Streamed, string Answer)> _completionAnswers = new(StringComparer.Ordinal);

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
    /// The <c>max_tokens</c> each streamed completion asks for; the hosts' default (a short answer) when null. A long
    /// answer (the test model writes a token in about 5 ms) is still being written when the first words reach its
    /// client, so a fault injected then (<see cref="WaitUntilACompletionStreamsAsync"/>) cuts it mid-answer for sure.
    /// </summary>
    public int? StreamedMaxTokens { get; set; }

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
                reading => Interlocked.Add(ref _streamsReading, reading ? 1 : -1), stream ? StreamedMaxTokens : null);
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
            _completionRefusals.Add($"{round}: {refusal}");
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
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// The soak (<c>bench/soak.sh --minutes N</c>; not part of <c>./test.sh</c>, which leaves the category out): the
/// distributed set-up with two API instances, two server bots, the client bot on llama.cpp and its own PostgreSQL and
/// Redis, under steady traffic, with a fault from the suite's list injected every minute. Each minute is one row: the
/// minute's chats keep sending (a refused send is sent again, as a person would), and two OpenAI clients keep sending
/// chat completions to <c>/v1</c>, streamed and not, while the fault comes and goes; then the loss check reads the
/// database, the completions' chats included. How the completions ended as their clients saw them is a table of its own.
/// Every other web chat is followed on its live stream from before its first send, as the web app follows the open chat
/// (<see cref="AnswerFollower"/>), and how each of its answers reached the follower is a table too. Two Telegram people
/// write to the bot all along, each in a private chat on the loopback Bot API that both server bots serve
/// (<see cref="TelegramTraffic"/>); how each of their messages ended, judged in the chat and against the database, is a
/// table with a row per minute (not in the web rows). At the end: the rows, the totals, and each process's memory,
/// threads and open handles at the start, after the warm-up (a third of the run, at most five minutes) and at the end.
/// Asserts nothing lost or duplicated (web, <c>/v1</c> and Telegram), no answer the database holds that its follower
/// never saw, every Telegram reply showing the answer the database holds, no 409 between Telegram pollers beyond what a
/// killed one leaves, at least 99.5 % of all the answers the model's, and no process that ran throughout grown more than
/// 10 % in memory after the warm-up.
/// </summary>
[NonParallelizable]
[Category(Category)]
public sealed class SoakTests : OwnServersFixture
{
    public const string Category = "Soak";

    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>How the OpenAI clients' completions ended, as they saw them, over the whole run.</summary>
    private readonly Dictionary<(bool Streamed, CompletionSeen Seen), int> _completions = [];
    private readonly List<string> _completionErrors = [];

    /// <summary>How the followed web chats' answers reached their followers, over the whole run.</summary>
    private readonly Dictionary<(bool Reconnected, AnswerSeen Seen), int> _answers = [];

    /// <summary>Each answer the database holds that its follower never saw: chat, request, the stream's history.</summary>
    private readonly List<string> _unseen = [];

    /// <summary>The Telegram people, for the whole run (their chats are allowed when the server bots start).</summary>
    private TelegramTraffic _telegram = null!;

    /// <summary>
    /// The API instances' <c>/metrics</c>, for this token: their managed heap is read beside their resident memory, to
    /// tell the heap's growth from the runtime's.
    /// </summary>
    private const string MetricsToken = "soak-metrics-token-0123456789";

    protected override async Task<ClusterOptions> StartingAsync()
    {
        _telegram = Own(await TelegramTraffic.StartAsync(people: 2));
        return await base.StartingAsync() with
        {
            ApiSettings = _ => new Dictionary<string, string> { ["Metrics__BearerToken"] = MetricsToken },
            ServerBotSettings = _telegram.ServerBotSettings,
        };
    }

    protected override async Task StartedAsync() => await Cluster.StartSecondServerBotAsync();

    [Test]
    public async Task Soak_LosesNothing_AndTheModelAnswersThroughEveryFault()
    {
        var minutes = double.Parse(Environment.GetEnvironmentVariable("MEATLIZARD_SOAK_MINUTES") ?? "5",
            CultureInfo.InvariantCulture);
        var seed = int.Parse(Environment.GetEnvironmentVariable("MEATLIZARD_SOAK_SEED") ?? "38", CultureInfo.InvariantCulture);
        var random = new Random(seed);
        var faults = Faults();
        var rows = new List<FaultOutcome>();
        var telegram = new List<TelegramOutcome>();
        var end = DateTime.UtcNow + TimeSpan.FromMinutes(minutes);
        IReadOnlyDictionary<string, ProcessFigures>? warm = null;
        var first = await FiguresAsync();
        // The warm-up: a third of the run, at most five minutes (the runtime's heaps and pools grow to their working size
        // first); growth is judged from there to the end.
        var warmUp = Math.Clamp((int)Math.Round(minutes / 3), 1, 5);
        for (var minute = 1; DateTime.UtcNow < end; minute++)
        {
            var (row, telegramRow) = await MinuteAsync(minute, faults[random.Next(faults.Count)]);
            rows.Add(row);
            telegram.Add(telegramRow);
            if (minute == warmUp)
            {
                warm = await FiguresAsync();
            }
        }

        warm ??= await FiguresAsync();

        var last = await FiguresAsync();
        var report = Report(rows, telegram, _completions, _completionErrors, _answers, first, warm!, last, minutes, seed);
        await TestContext.Out.WriteLineAsync(report);
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "soak.md");
        await File.WriteAllTextAsync(path, report);

        var (stored, model) = AllAnswers(rows, telegram);
        var telegramProblems = string.Join(Environment.NewLine, telegram.SelectMany(t => t.Problems));
        Assert.Multiple(() =>
        {
            Assert.That(rows.Sum(r => r.Lost), Is.Zero, "nothing lost");
            Assert.That(rows.Sum(r => r.Duplicated), Is.Zero, "nothing duplicated");
            Assert.That(telegram.Sum(t => t.Count(TelegramSeen.Lost)), Is.Zero,
                $"no Telegram message lost:{Environment.NewLine}{telegramProblems}");
            Assert.That(telegram.Sum(t => t.Count(TelegramSeen.Duplicated)), Is.Zero,
                $"no Telegram message answered twice:{Environment.NewLine}{telegramProblems}");
            Assert.That(telegram.Sum(t => t.Count(TelegramSeen.NotTheStoredAnswer)), Is.Zero,
                $"every Telegram reply ends showing the answer the database holds:{Environment.NewLine}{telegramProblems}");
            Assert.That(telegram.Sum(t => t.Count(TelegramSeen.Model)), Is.GreaterThan(0), "the model answered the Telegram people");
            foreach (var minute in telegram)
            {
                Assert.That(minute.PollConflicts, Is.LessThanOrEqualTo(minute.PollConflictsAllowed),
                    $"{minute.Fault}: Telegram ended long polls with 409 (two pollers at once) more often than a killed poller explains");
            }

            Assert.That(rows.Sum(r => r.Unfinished), Is.Zero, "every request finished");
            Assert.That(_answers.Values.Sum(), Is.GreaterThan(0), "the followers followed answers");
            Assert.That(_unseen.Count, Is.Zero,
                $"every answer the database holds reached the client following its chat:{Environment.NewLine}{string.Join(Environment.NewLine, _unseen)}");
            Assert.That(model, Is.GreaterThanOrEqualTo(stored * 0.995), "at least 99.5 % of the answers (web, /v1, Telegram) the model's");
            foreach (var (role, before) in warm!)
            {
                if (last.TryGetValue(role, out var after) && after.Pid == before.Pid)
                {
                    Assert.That(after.RssKb, Is.LessThanOrEqualTo(before.RssKb * 1.10),
                        $"{role} grew more than 10 % in memory after the warm-up");
                }
            }
        });
    }

    /// <summary>
    /// One minute: fresh chats sending and the Telegram people writing all along, the fault a few seconds in, then the
    /// loss check and the Telegram chats judged.
    /// </summary>
    private async Task<(FaultOutcome Row, TelegramOutcome Telegram)> MinuteAsync(int minute, SoakFault fault)
    {
        var started = Stopwatch.StartNew();
        using var traffic = await Traffic.PrepareAsync(Cluster, $"soak minute {minute}", users: 3, chatsEach: 2,
            openAiCallers: 2, followEvery: 2);
        await _telegram.StartMinuteAsync();
        var sendUntil = Minute - TimeSpan.FromSeconds(15);
        var sending = Task.Run(async () =>
        {
            for (var round = 1; started.Elapsed < sendUntil; round++)
            {
                await traffic.SendRoundAsync($"round {round}");
            }
        });
        var chatting = _telegram.ChatAsync($"soak minute {minute}", until: DateTime.UtcNow + (sendUntil - started.Elapsed));
        await Task.Delay(TimeSpan.FromSeconds(8));
        await fault.Inject();
        await sending;
        await chatting;
        await traffic.WaitUntilSettledAsync(FaultCluster.SettleWithin);
        _unseen.AddRange(await traffic.JudgeFollowersAsync(within: TimeSpan.FromSeconds(15)));
        foreach (var (kind, count) in traffic.AnswersSeen)
        {
            _answers[kind] = _answers.GetValueOrDefault(kind) + count;
        }

        var outcome = await traffic.CheckAsync($"minute {minute}: {fault.Name}");
        foreach (var (kind, count) in traffic.CompletionsSeen)
        {
            _completions[kind] = _completions.GetValueOrDefault(kind) + count;
        }

        _completionErrors.AddRange(traffic.CompletionErrors.Select(e => $"minute {minute} ({fault.Name}): {e}"));

        var telegram = await _telegram.JudgeAsync(Cluster, $"minute {minute}: {fault.Name}",
            pollConflictsAllowed: fault.KillsAServerBot ? 1 : 0, within: FaultCluster.SettleWithin);

        var rest = Minute - started.Elapsed;
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest);
        }

        return (outcome, telegram);
    }

    /// <summary>
    /// All the answers the database holds for the traffic, the web's and <c>/v1</c>'s (the rows) and the Telegram
    /// people's, and how many of them were the model's (for Telegram, also shown so in the chat).
    /// </summary>
    private static (int Stored, int Model) AllAnswers(IReadOnlyList<FaultOutcome> rows, IReadOnlyList<TelegramOutcome> telegram) =>
        (rows.Sum(r => r.Stored) + telegram.Sum(t => t.Stored),
            rows.Sum(r => r.AnsweredByModel) + telegram.Sum(t => t.Count(TelegramSeen.Model)));

    /// <summary>A fault of the soak's list; <paramref name="KillsAServerBot"/>: it may kill the one polling Telegram.</summary>
    private sealed record SoakFault(string Name, Func<Task> Inject, bool KillsAServerBot = false);

    /// <summary>The suite's faults, each over within seconds (restarts within 2 s, outages of 10 s).</summary>
    private List<SoakFault> Faults() =>
    [
        new("kill -9 of a server bot, restarted", async () =>
            await Cluster.KillAndRestartAsync(Cluster.ServerBot!, downFor: TimeSpan.FromSeconds(2)), KillsAServerBot: true),
        new("kill -9 of the other server bot, restarted", async () =>
            await Cluster.KillAndRestartAsync(Cluster.SecondServerBot!, downFor: TimeSpan.FromSeconds(2)), KillsAServerBot: true),
        new("kill -9 of the client bot, restarted", async () =>
            await Cluster.KillAndRestartAsync(Cluster.ClientBotProcess!, downFor: TimeSpan.FromSeconds(2))),
        new("llama-server frozen (SIGSTOP)", async () =>
        {
            if (FaultCluster.LlamaServerOf(Cluster.ClientBotProcess!) is { } llama)
            {
                await FaultCluster.FreezeAsync(llama);
            }
        }),
        new("kill -9 of an API instance, restarted", async () =>
            await Cluster.KillAndRestartAsync(Cluster.ApiProcesses[0], downFor: TimeSpan.FromSeconds(1))),
        new("Discord REST answering 503 for 10 s", async () =>
        {
            Cluster.Discord.StartRestOutage(TimeSpan.FromSeconds(10), hang: false);
            await Task.Delay(TimeSpan.FromSeconds(10));
        }),
        new("Discord gateway of the bots dropped", async () =>
            await Task.WhenAll(Cluster.Discord.DropConnectionAsync(Cluster.ServerBotUser),
                Cluster.Discord.DropConnectionAsync(Cluster.ClientBotUser))),
        new("Redis restarted", async () =>
        {
            Redis.Kill();
            await Task.Delay(TimeSpan.FromSeconds(2));
            await Redis.StartAsync();
        }),
        new("PostgreSQL restarted", async () =>
        {
            await Postgres.RestartAsync();
            Npgsql.NpgsqlConnection.ClearAllPools();
        }),
    ];

    /// <summary>Each running process's figures, by its role; an API instance's with its managed heap.</summary>
    private async Task<Dictionary<string, ProcessFigures>> FiguresAsync()
    {
        var roles = new Dictionary<string, HostProcess?>
        {
            ["API #1"] = Cluster.ApiProcesses[0],
            ["API #2"] = Cluster.ApiProcesses[1],
            ["server bot"] = Cluster.ServerBot,
            ["server bot 2"] = Cluster.SecondServerBot,
            ["client bot"] = Cluster.ClientBotProcess,
        };
        var figures = roles.Where(r => r.Value is { HasExited: false })
            .Select(r => (r.Key, Figures: ProcessFigures.Of(r.Value!.Id)))
            .Where(r => r.Figures is not null)
            .ToDictionary(r => r.Key, r => r.Figures!);
        for (var i = 0; i < Cluster.Apis.Count; i++)
        {
            if (figures.TryGetValue($"API #{i + 1}", out var api))
            {
                var (heap, committed) = await ManagedMemoryKbAsync(Cluster.Apis[i]);
                figures[$"API #{i + 1}"] = api with { HeapKb = heap, CommittedKb = committed };
            }
        }

        return figures;
    }

    /// <summary>
    /// The API instance's managed heap and what the GC committed for it, as its <c>/metrics</c> says
    /// (<c>meatlizard_process_gc_heap_bytes</c>, <c>meatlizard_process_gc_committed_bytes</c>).
    /// </summary>
    private static async Task<(long? HeapKb, long? CommittedKb)> ManagedMemoryKbAsync(Uri api)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", MetricsToken);
        try
        {
            var lines = (await http.GetStringAsync("metrics")).Split('\n');
            long? Kb(string name) => lines.FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal)) is { } line
                ? (long)(double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture) / 1024)
                : null;
            return (Kb("meatlizard_process_gc_heap_bytes"), Kb("meatlizard_process_gc_committed_bytes"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (null, null); // restarting
        }
    }

    private static string Report(IReadOnlyList<FaultOutcome> rows, IReadOnlyList<TelegramOutcome> telegram,
        IReadOnlyDictionary<(bool Streamed, CompletionSeen Seen), int> completions, IReadOnlyList<string> completionErrors,
        IReadOnlyDictionary<(bool Reconnected, AnswerSeen Seen), int> answers, IReadOnlyDictionary<string, ProcessFigures> first,
        IReadOnlyDictionary<string, ProcessFigures> warm, IReadOnlyDictionary<string, ProcessFigures> last,
        double minutes, int seed)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Soak: {minutes} minutes, seed {seed}, a fault a minute");
        text.AppendLine();
        text.AppendLine("| minute and fault | sent | stored | model | notice | lost | duplicated | longest blocked |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Fault} | {r.Sent} | {r.Stored} | {r.AnsweredByModel} | {r.AnsweredByNotice} | {r.Lost} | {r.Duplicated} | {r.LongestBlocked.TotalSeconds:F1} s |");
        }

        var (stored, model) = (rows.Sum(r => r.Stored), rows.Sum(r => r.AnsweredByModel));
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| **all** | {rows.Sum(r => r.Sent)} | {stored} | {model} ({(stored == 0 ? 0 : 100.0 * model / stored):F1} %) | {rows.Sum(r => r.AnsweredByNotice)} | {rows.Sum(r => r.Lost)} | {rows.Sum(r => r.Duplicated)} | {rows.Select(r => r.LongestBlocked).DefaultIfEmpty().Max().TotalSeconds:F1} s |");
        text.AppendLine();
        text.AppendLine("The OpenAI clients' completions (in the rows above too), as the clients saw them:");
        text.AppendLine();
        text.AppendLine("| `/v1` | sent | the model's whole answer | error (503, error event) | cut off | refused, sent again |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var streamed in new[] { false, true })
        {
            int Seen(CompletionSeen seen) => completions.GetValueOrDefault((streamed, seen));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {(streamed ? "streamed" : "not streamed")} | {Enum.GetValues<CompletionSeen>().Sum(Seen)} | {Seen(CompletionSeen.Model)} | {Seen(CompletionSeen.Error)} | {Seen(CompletionSeen.Cut)} | {Seen(CompletionSeen.Refused)} |");
        }

        foreach (var error in completionErrors)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {error}");
        }

        text.AppendLine();
        text.AppendLine("The followed web chats (every other; Server-Sent Events of `/api/v1/sessions/{id}/stream`, opened before the first send), how each accepted message's answer reached the follower:");
        text.AppendLine();
        text.AppendLine("| follower's stream between send and answer | accepted | `message`: the model's | `message`: a notice | in the page read on reconnecting | never seen, stored (loss) | never answered |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var reconnected in new[] { false, true })
        {
            int Seen(AnswerSeen seen) => answers.GetValueOrDefault((reconnected, seen));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {(reconnected ? "broke, reconnected to the other instance" : "unbroken")} | {Enum.GetValues<AnswerSeen>().Sum(Seen)} | {Seen(AnswerSeen.Model)} | {Seen(AnswerSeen.Notice)} | {Seen(AnswerSeen.InPageOnReconnect)} | {Seen(AnswerSeen.Unseen)} | {Seen(AnswerSeen.Unanswered)} |");
        }

        text.AppendLine();
        text.AppendLine("The Telegram chats (two people, each in a private chat with the bot on the loopback Bot API, polled by one server bot at a time; not in the first table), how each message they said ended, as the chat showed it and the database holds it:");
        text.AppendLine();
        text.AppendLine("| minute and fault | said | the model's | a notice | refused, said again | `/reset` answered | lost | duplicated | not the stored answer | longest wait | 409: two pollers |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        void TelegramRow(string name, Func<TelegramSeen, int> seen, int said, TimeSpan wait, int conflicts) =>
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {said} | {seen(TelegramSeen.Model)} | {seen(TelegramSeen.Notice)} | {seen(TelegramSeen.Refused)} | {seen(TelegramSeen.Command)} | {seen(TelegramSeen.Lost)} | {seen(TelegramSeen.Duplicated)} | {seen(TelegramSeen.NotTheStoredAnswer)} | {wait.TotalSeconds:F1} s | {conflicts} |");
        foreach (var t in telegram)
        {
            TelegramRow(t.Fault, t.Count, t.Said, t.LongestWait, t.PollConflicts);
        }

        TelegramRow("**all**", kind => telegram.Sum(t => t.Count(kind)), telegram.Sum(t => t.Said),
            telegram.Select(t => t.LongestWait).DefaultIfEmpty().Max(), telegram.Sum(t => t.PollConflicts));

        var (allStored, allModel) = AllAnswers(rows, telegram);
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"All the answers stored (web, `/v1`, Telegram): {allStored}, the model's {allModel} ({(allStored == 0 ? 0 : 100.0 * allModel / allStored):F1} %).");
        text.AppendLine();
        text.AppendLine("| process | at the start: RSS, threads, handles | after the warm-up | at the end | pid the same throughout |");
        text.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var role in first.Keys.Union(last.Keys))
        {
            var (a, w, z) = (first.GetValueOrDefault(role), warm.GetValueOrDefault(role), last.GetValueOrDefault(role));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {role} | {a} | {w} | {z} | {(a is not null && z is not null && a.Pid == z.Pid ? "yes" : "no (restarted)")} |");
        }

        return text.ToString();
    }
}

/// <summary>
/// A process's resident memory, threads and open file descriptors, read from /proc; for an API instance also its managed
/// heap (<paramref name="HeapKb"/>) and what the GC committed for it (<paramref name="CommittedKb"/>), read from its
/// metrics: the rest of its resident memory is native.
/// </summary>
public sealed record ProcessFigures(int Pid, long RssKb, int Threads, int Handles, long? HeapKb = null,
    long? CommittedKb = null)
{
    public static ProcessFigures? Of(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            long Field(string name) => long.Parse(status.First(l => l.StartsWith(name, StringComparison.Ordinal))
                .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return new ProcessFigures(pid, Field("VmRSS:"), (int)Field("Threads:"),
                Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null; // it ended meanwhile
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{RssKb / 1024.0:F0} MB{(HeapKb is { } heap ? $" (heap {heap / 1024.0:F0} MB{(CommittedKb is { } committed ? $", GC committed {committed / 1024.0:F0} MB" : "")})" : "")}, {Threads}, {Handles}");
}

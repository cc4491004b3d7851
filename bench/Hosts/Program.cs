using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using MeatLizard.Bench;
using MeatLizard.Bench.Hosts;
using Npgsql;

// Several model hosts (issue "Several model hosts"): the real API (distributed mode, PostgreSQL + Redis), the server's
// dispatcher and 1, 2, 4… model hosts, each with an engine that takes a fixed time per answer and has a fixed number
// of slots, joined by a relay that carries the sealed envelopes as Discord does (every host reads every request, each
// answers only its own) without Discord's latency and rate limits, so the figures are the server's routing and
// queueing, not Discord's.
//   1. Scaling: answers per second with each host count, closed loop with more chats than slots (the queue stays at
//      the server); target ≥ 0.9 × linear (the one-host rate times the host count).
//   2. Fairness: users at saturation, one of them with --heavy times more chats; Jain's index of the users' answers
//      per second over their fair shares (equal: every user asks for more than an equal share); target ≥ 0.95.
//   3. Waiting times (first, with one host): with answers of --eta-answer-s (2 s) and four chats per slot, each
//      request's first estimate ("queued" with estimatedWaitSeconds) against its real wait until "dispatched"; target:
//      at least 90 % of estimates within ±50 %.
//   usage: bench/hosts.sh [--seconds 10] [--hosts 1,2,4] [--answer-ms 200] [--slots 2] [--users 10] [--heavy 10]
//                       [--chats-per-user 4 (a light user's chats in the fairness run)]
//                       [--eta-seconds 30 (0 skips the waiting-time run)] [--eta-answer-s 2]
//                       [--no-verdict (measure only: the targets do not set the exit status)]
//   Exits 1 when a target is NOT met, a request failed or a host ran more than its slots at once.
internal static class HostsBenchmark
{
    public static async Task<int> Main(string[] args)
    {
        (var verdicts, args) = Verdicts.Parse(args);
        var seconds = Option(args, "--seconds", 10.0);
        var hostCounts = (OptionText(args, "--hosts") ?? "1,2,4").Split(',').Select(int.Parse).ToArray();
        var answerTime = TimeSpan.FromMilliseconds(Option(args, "--answer-ms", 200.0));
        var slots = (int)Option(args, "--slots", 2.0);
        var userCount = (int)Option(args, "--users", 10.0);
        var heavy = (int)Option(args, "--heavy", 10.0);
        var lightChats = (int)Option(args, "--chats-per-user", 4.0);
        var etaSeconds = Option(args, "--eta-seconds", 30.0);
        var etaAnswerTime = TimeSpan.FromSeconds(Option(args, "--eta-answer-s", 2.0));
        var postgres = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES");
        var redis = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_REDIS");
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(redis))
        {
            Console.Error.WriteLine("MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS must be set: run bench/hosts.sh, which starts both.");
            return 2;
        }

        var database = "ml_bench_" + Guid.NewGuid().ToString("N");
        var work = Directory.CreateTempSubdirectory("meatlizard-bench-hosts-").FullName;
        await ExecuteAsync(postgres, $"CREATE DATABASE {database}");
        var cluster = new BenchCluster(work, new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(postgres) { Database = database, MaxPoolSize = 200 }.ConnectionString,
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = redis,
            ["Cache:Redis:KeyPrefix"] = $"{database}:",
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Inference:ModelName"] = BenchCluster.Model,
            ["Inference:DefaultModel"] = BenchCluster.Model,
            ["RateLimits:PerUserPerMinute"] = "0",
            ["RateLimits:PerIpPerMinute"] = "0",
            ["RateLimits:ChatCreationPerUserPerMinute"] = "0",
            ["RateLimits:MaxWaitingCallsPerUser"] = "0",
            ["Relay:PartialInterval"] = "00:00:00.050",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        try
        {
            var api = await cluster.StartAsync();
            var users = new List<HttpClient>();
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1000, UseCookies = false };
            for (var i = 0; i < userCount; i++)
            {
                var client = new HttpClient(handler, disposeHandler: false) { BaseAddress = api, Timeout = TimeSpan.FromSeconds(120) };
                client.DefaultRequestHeaders.Authorization = new("Bearer", await BenchApi.SignUpAsync(client));
                users.Add(client);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"MeatLizard model hosts benchmark — API (distributed mode) + dispatcher + N model hosts over a Discord-like relay without Discord's limits, PostgreSQL + Redis, {Environment.ProcessorCount} cores"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Each host: {slots} slots, {answerTime.TotalMilliseconds:0} ms per answer (capacity {slots / answerTime.TotalSeconds:0.#} answers/s); {seconds:0.#} s per run; {userCount} users"));
            Console.WriteLine();
            var etaShare = double.NaN;
            var failed = 0;
            if (etaSeconds > 0)
            {
                (etaShare, failed) = await WaitingTimesAsync(cluster, users, answerTime, etaAnswerTime, slots, etaSeconds);
            }

            Console.WriteLine($"{"hosts",5} | {"chats",5} | {"answers/s",9} {"capacity",8} {"of cap.",7} | {"× 1 host",8} {"scaling",7} | {"p50 ms",7} {"p99 ms",7} | {"most at once per host",21} | unanswered");
            Console.WriteLine(new string('-', 118));
            double? oneHost = null;
            double worstScaling = double.PositiveInfinity;
            foreach (var count in hostCounts)
            {
                await cluster.AddHostsAsync(count, answerTime, slots, users[0]);
                var capacity = count * slots / answerTime.TotalSeconds;
                // Three chats per slot: every host always has a next request waiting at the server.
                var chats = 3 * count * slots;
                var run = await RunAsync(users, i => i % users.Count, chats, seconds);
                failed += run.Load.Failures;
                oneHost ??= run.Load.PerSecond / count;
                var scaling = run.Load.PerSecond / (oneHost.Value * count);
                if (count > 1)
                {
                    worstScaling = Math.Min(worstScaling, scaling);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{count,5} | {chats,5} | {run.Load.PerSecond,9:0.0} {capacity,8:0.0} {run.Load.PerSecond / capacity,7:P0} | {oneHost * count,8:0.0} {scaling,7:0.000} | {run.Load.P50,7:0} {run.Load.P99,7:0} | {string.Join(' ', cluster.MostAtOnce),21} | {run.Load.Unanswered}"));
            }

            // Fairness at the largest host count: every user at saturation, the first with `heavy` times the chats.
            var chatOwners = Enumerable.Range(0, users.Count).SelectMany(u => Enumerable.Repeat(u, u == 0 ? heavy * lightChats : lightChats)).ToArray();
            var fairness = await RunAsync(users, i => chatOwners[i], chatOwners.Length, seconds);
            failed += fairness.Load.Failures;
            var hostsNow = hostCounts.Max();
            var share = fairness.Load.PerSecond / users.Count;
            var lightDemand = lightChats / answerTime.TotalSeconds;
            var jain = Jain(fairness.PerUser.Select(x => x / share).ToArray());
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Fairness, {hostsNow} hosts: {users.Count} users, user 1 with {heavy * lightChats} chats, the others {lightChats} each ({chatOwners.Length} chats for {hostsNow * slots} slots), {fairness.Load.PerSecond:0.0} answers/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  fair share {share:0.00}/s each (a user with {lightChats} chats can ask up to {lightDemand:0.#}/s, more than the share, so the shares are equal)"));
            Console.WriteLine("  answers/s per user: " + string.Join("  ", fairness.PerUser.Select((x, u) => string.Create(CultureInfo.InvariantCulture, $"#{u + 1} {x:0.00}"))));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  heavy user ÷ a light user's mean: {fairness.PerUser[0] / fairness.PerUser.Skip(1).Average():0.00}"));
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Scaling (worst of 2+ hosts, answers/s ÷ (one host's × hosts)): {(hostCounts.Any(c => c > 1) ? Verdict(verdicts, "scaling >= 0.9", worstScaling, 0.9) : "not measured (no run with 2+ hosts)")}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Jain's fairness index over fair shares: {Verdict(verdicts, "fairness >= 0.95", jain, 0.95)}"));
            if (etaSeconds > 0)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Waiting-time estimates within ±50 %: {Verdict(verdicts, "waiting-time estimates >= 0.9 within ±50 %", etaShare, 0.9)}"));
            }

            var withinSlots = cluster.MostAtOnce.All(m => m <= slots);
            Console.WriteLine($"No host ran more than its {slots} slots at once: {(withinSlots ? "yes" : "NO")}");
            Console.WriteLine($"Failed requests: {failed}");
            return verdicts.ExitStatus(failed > 0 || !withinSlots);
        }
        finally
        {
            await cluster.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(postgres, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// One host, slowed to <paramref name="etaAnswerTime"/> per answer, and four chats per slot: how each request's first
    /// estimate compares with its real wait. The share of estimates within ±50 %.
    /// </summary>
    private static async Task<(double Share, int Failures)> WaitingTimesAsync(BenchCluster cluster, IReadOnlyList<HttpClient> users,
        TimeSpan answerTime, TimeSpan etaAnswerTime, int slots, double seconds)
    {
        await cluster.AddHostsAsync(1, answerTime, slots, users[0]);
        var engine = cluster.Engines[0];
        engine.AnswerTime = etaAnswerTime;
        await using var estimates = new WaitEstimates();
        var chats = 4 * slots;
        // The queue is steady once it has turned over once: until then, the chats that all sent at the loop's start
        // arrive in no particular order, and those whose users were served longer ago (round robin) go ahead of
        // requests already told a place.
        var turnover = (long)(chats / (double)slots * etaAnswerTime.TotalSeconds * Stopwatch.Frequency);
        long steadyFrom = 0;
        var run = await RunAsync(users, i => i % users.Count, chats, seconds, id => estimates.FollowAsync(cluster.Events, id),
            loopStarts: () => steadyFrom = Stopwatch.GetTimestamp() + turnover);
        engine.AnswerTime = answerTime;
        var pairs = estimates.Pairs(steadyFrom);
        var ratios = pairs.Where(p => p.Waited > 0).Select(p => p.Estimated / p.Waited).Order().ToArray();
        var within = ratios.Count(r => r is >= 0.5 and <= 1.5);
        var share = ratios.Length > 0 ? (double)within / ratios.Length : double.NaN;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Waiting times, 1 host, {slots} slots, {etaAnswerTime.TotalSeconds:0.#} s per answer, {chats} chats for {seconds:0} s ({run.Load.PerSecond:0.00} answers/s, {run.Load.Unanswered}):"));
        if (ratios.Length == 0)
        {
            Console.WriteLine("  no request was told an estimate and then dispatched");
            return (share, run.Load.Failures);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {ratios.Length} requests told an estimate once the queue had turned over ({turnover / (double)Stopwatch.Frequency:0} s); estimate ÷ real wait: p10 {ratios[ratios.Length / 10]:0.00}, median {ratios[ratios.Length / 2]:0.00}, p90 {ratios[ratios.Length * 9 / 10]:0.00}; within ±50 %: {within} ({share:P0})"));
        Console.WriteLine("  (estimate s → real s) " + string.Join("  ", pairs.Take(12).Select(p => string.Create(CultureInfo.InvariantCulture, $"#{p.Position}:{p.Estimated}→{p.Waited:0.0}"))));
        Console.WriteLine();
        return (share, run.Load.Failures);
    }

    /// <summary>A figure against its target; one that could not be measured (no answers to compute it from) is not met.</summary>
    private static string Verdict(Verdicts verdicts, string name, double value, double target) => string.Create(CultureInfo.InvariantCulture,
        $"{(double.IsFinite(value) ? value.ToString("0.000", CultureInfo.InvariantCulture) : "not measured")} (target ≥ {target:0.00}: {verdicts.Judge(name, double.IsFinite(value) && value >= target)})");

    /// <summary>Jain's index: (Σx)² ÷ (n·Σx²); 1 when every x is equal, 1/n when one takes everything.</summary>
    private static double Jain(double[] x) => x.Sum() * x.Sum() / (x.Length * x.Sum(v => v * v));

    /// <summary>
    /// A closed loop over <paramref name="chats"/> chats (chat i belongs to user <paramref name="ownerOf"/>(i); each new
    /// chat handed to <paramref name="follow"/>), after a warm-up message in each: the overall figures, and each user's answers per second within the window.
    /// </summary>
    private static async Task<(LoadRun Load, double[] PerUser)> RunAsync(
        IReadOnlyList<HttpClient> users, Func<int, int> ownerOf, int chats, double seconds, Func<Guid, Task>? follow = null,
        Action? loopStarts = null)
    {
        var slots = await ChatSlots.CreateAsync(chats, async (i, cancel) =>
        {
            var id = await BenchApi.CreateSessionAsync(users[ownerOf(i)], cancel);
            if (follow is not null)
            {
                await follow(id);
            }

            return id;
        });
        await slots.WarmAsync(i => BenchApi.SendAsync(users[ownerOf(i)], slots[i]));
        var answered = new int[users.Count];
        loopStarts?.Invoke();
        var windowEnd = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var load = await LoadLoops.ClosedAsync(chats, seconds, async (i, cancel) =>
        {
            var ok = await BenchApi.SendAsync(users[ownerOf(i)], slots[i], cancel);
            if (ok && Stopwatch.GetTimestamp() <= windowEnd)
            {
                Interlocked.Increment(ref answered[ownerOf(i)]);
            }

            return ok;
        }, slots.PrepareAsync);
        return (load, answered.Select(n => n / seconds).ToArray());
    }

    private static double Option(string[] args, string name, double fallback) =>
        OptionText(args, name) is { } text ? double.Parse(text, CultureInfo.InvariantCulture) : fallback;

    private static string? OptionText(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

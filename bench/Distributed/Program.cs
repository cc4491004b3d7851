using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Bench;
using MeatLizard.Bench.Distributed;
using Npgsql;

// Relay benchmark in distributed mode: two API instances (Presentation.Api, Relay:Dispatcher=External) and one relay
// host (dispatcher + instant-engine worker, see RelayHost) as separate processes on PostgreSQL and Redis. N sessions,
// spread over both instances, each send a message and wait for its answer (POST /send?wait=true): the request goes
// through the PostgreSQL outbox (LISTEN/NOTIFY wakes the relay host), the answer comes back through Redis pub/sub.
// Then an open-loop run, as in bench/Relay: --paced-sessions sessions (default 100, spread over both instances) together
// offer --rate messages/s (default 1000; 0 skips it), latency measured from each scheduled send. Closed loop, 100
// sessions wait in turn, so p50 ≈ 100 / throughput (Little's law); only the open loop says what latency a given load
// gets, so the targets are judged on it.
//   usage: bench/distributed.sh [--seconds 10] [--concurrency 1,10,100] [--warmup 20 (seconds of unmeasured load first)]
//                               [--rate 1000] [--paced-sessions 100] [--stages (where the open loop's requests spent their time)]
//                               [--no-verdict (measure only: the targets do not set the exit status)]
//   Exits 1 when a target is NOT met or a request failed or was not sent.
//   (needs MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS; bench/distributed.sh starts both servers when unset)
internal static class DistributedBenchmark
{
    public static async Task<int> Main(string[] args)
    {
        if (args.FirstOrDefault() == "relay")
        {
            return await RelayHost.RunAsync(args[1..]);
        }

        (var verdicts, args) = Verdicts.Parse(args);

        var seconds = 10.0;
        var warmup = 20.0;
        var levels = new[] { 1, 10, 100 };
        var rate = 1000.0;
        var pacedSessions = 100;
        var stages = args.Contains("--stages");
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--seconds")
            {
                seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--warmup")
            {
                warmup = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--concurrency")
            {
                levels = args[i + 1].Split(',').Select(int.Parse).ToArray();
            }
            else if (args[i] == "--rate")
            {
                rate = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--paced-sessions")
            {
                pacedSessions = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        var postgres = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_POSTGRES");
        var redis = Environment.GetEnvironmentVariable("MEATLIZARD_TEST_REDIS");
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(redis))
        {
            Console.Error.WriteLine("MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS must be set: run bench/distributed.sh, which starts both.");
            return 2;
        }

        var database = "ml_bench_" + Guid.NewGuid().ToString("N");
        var work = Directory.CreateTempSubdirectory("meatlizard-bench-distributed-").FullName;
        await ExecuteAsync(postgres, $"CREATE DATABASE {database}");
        var children = new List<ChildProcess>();
        try
        {
            var shared = new Dictionary<string, string>
            {
                ["Storage__Provider"] = "Postgres",
                ["ConnectionStrings__Postgres"] = new NpgsqlConnectionStringBuilder(postgres) { Database = database, MaxPoolSize = 200 }.ConnectionString,
                ["Cache__Provider"] = "Redis",
                ["ConnectionStrings__Redis"] = redis,
                ["Cache__Redis__KeyPrefix"] = $"{database}:",
                ["RateLimits__PerUserPerMinute"] = "0",
                ["RateLimits__PerIpPerMinute"] = "0",
                // One bench user drives every session: its chats and waiting calls are not capped either.
                ["RateLimits__ChatCreationPerUserPerMinute"] = "0",
                ["RateLimits__MaxWaitingCallsPerUser"] = "0",
                ["Relay__PartialInterval"] = "00:00:00.050",
            };

            // The relay host first, so it migrates the database before the API instances start.
            var relay = ChildProcess.Start("relay host", "MeatLizard.Bench.Distributed.dll", ["relay"],
                Directory.CreateDirectory(Path.Combine(work, "relay")).FullName,
                new Dictionary<string, string>(shared) { ["Data__Root"] = Path.Combine(work, "relay") });
            children.Add(relay);
            var apis = new List<Uri>();
            for (var i = 1; i <= 2; i++)
            {
                // The data-protection keys live in PostgreSQL, so a token from one instance works at the other.
                var api = ChildProcess.Start($"API #{i}", "MeatLizard.Presentation.Api.dll", [],
                    Directory.CreateDirectory(Path.Combine(work, $"api{i}")).FullName,
                    new Dictionary<string, string>(shared)
                    {
                        ["Relay__Dispatcher"] = "External",
                        ["Data__Root"] = Path.Combine(work, $"api{i}"),
                        ["Urls"] = "http://127.0.0.1:0",
                    });
                children.Add(api);
                apis.Add(await api.ListeningAsync(TimeSpan.FromSeconds(120)));
            }

            var clients = apis.Select(api => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, UseCookies = false })
            {
                BaseAddress = api,
                Timeout = TimeSpan.FromSeconds(120),
            }).ToArray();
            await ExecuteAsync(new NpgsqlConnectionStringBuilder(postgres) { Database = database }.ConnectionString,
                BenchOperator.SeedSql);
            var token = await BenchApi.SignUpAsync(clients[0]);
            foreach (var client in clients)
            {
                client.DefaultRequestHeaders.Authorization = new("Bearer", token);
            }

            await WaitForWorkerAsync(clients, relay);

            Console.WriteLine($"MeatLizard relay benchmark — distributed mode: 2 API processes + 1 relay process (dispatcher + instant-engine worker over the in-process transport), PostgreSQL + Redis, {Environment.ProcessorCount} cores, {seconds:0.#} s per level, chats of {ChatSlots.ChatLength} messages");
            Console.WriteLine("Each message: POST /send?wait=true at one API instance → PostgreSQL outbox + NOTIFY → relay process dispatches, worker answers → answer stored → Redis pub/sub → the API instance answers.");
            Console.WriteLine("CPU ms/msg adds the CPU time of all four processes (two APIs, relay host, this load generator).");
            // Three fresh processes: run the whole path for a while first, so the JIT's tiering (slow on a busy machine)
            // is done before anything is measured. What tiering has left shows as CPU burnt while nothing is sent
            // (measured at 0.4 core per process after 10 s of warm-up here, ~0 after 30 s): the warm-up goes on in
            // rounds of 5 s until every process is idle (under 50 ms of CPU per second), at most 60 s more.
            ChatSlots? warm = null;
            async Task WarmAsync(double forSeconds)
            {
                warm ??= await ChatSlots.CreateAsync(20, (i, cancel) => BenchApi.CreateSessionAsync(clients[i % 2], cancel));
                await LoadLoops.ClosedAsync(20, forSeconds, (i, cancel) => BenchApi.SendAsync(clients[i % 2], warm[i], cancel),
                    warm.PrepareAsync);
            }

            // What the processes burn doing nothing (timers, pollers, heartbeats), so it is not blamed on messages.
            async Task<double[]> IdleAsync()
            {
                var idleBefore = children.Select(c => c.CpuTime).ToArray();
                await Task.Delay(TimeSpan.FromSeconds(2));
                return children.Select((c, i) => (c.CpuTime - idleBefore[i]).TotalMilliseconds / 2).ToArray();
            }

            var warmed = 0.0;
            if (warmup > 0)
            {
                await WarmAsync(warmup);
                warmed = warmup;
            }

            var idle = await IdleAsync();
            while (warmup > 0 && idle.Any(ms => ms > 50) && warmed < warmup + 60)
            {
                await WarmAsync(5);
                warmed += 5;
                idle = await IdleAsync();
            }

            // A database this new has no statistics until autovacuum's first pass over it (autovacuum_naptime, a minute
            // by default), so plans made while the warm-up filled it would treat tables of tens of thousands of rows
            // as empty (sequential scans per dispatched batch, 1 ms each at the end of a run). A deployment's tables
            // have statistics: take them now, as autovacuum would; the cached plans are made again from them.
            if (Environment.GetEnvironmentVariable("MEATLIZARD_BENCH_NO_ANALYZE") != "1")
            {
                await ExecuteAsync(new NpgsqlConnectionStringBuilder(postgres) { Database = database }.ConnectionString, "ANALYZE");
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Warm-up {warmed:0} s; idle CPU ms per second after it: relay host {idle[0]:0.0}, API #1 {idle[1]:0.0}, API #2 {idle[2]:0.0}"));
            Console.WriteLine();
            Console.WriteLine($"{"sessions",8} | {"p50 ms",8} {"p99 ms",8} {"msg/s",8} | {"cpu ms/msg",10} {"api",6} {"relay",6} {"client",6} | {"pg",6} {"redis",6} | unanswered");
            Console.WriteLine(new string('-', 112));
            var failures = 0;
            var notSent = 0;
            LoadRun? atHundred = null;
            foreach (var concurrency in levels)
            {
                // Session i lives on instance i % 2 and sends there; the relay host answers both.
                var chats = await ChatSlots.CreateAsync(concurrency, (i, cancel) => BenchApi.CreateSessionAsync(clients[i % 2], cancel));
                await chats.WarmAsync(i => BenchApi.SendAsync(clients[i % 2], chats[i]));
                var cpuBefore = CpuMark.Now(children);
                var result = await LoadLoops.ClosedAsync(concurrency, seconds,
                    (i, cancel) => BenchApi.SendAsync(clients[i % 2], chats[i], cancel), chats.PrepareAsync);
                var cpu = cpuBefore.PerMessage(children, result.Finished);
                failures += result.Failures;
                if (concurrency == 100)
                {
                    atHundred = result;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{concurrency,8} | {result.P50,8:0.00} {result.P99,8:0.00} {result.PerSecond,8:0} | {cpu.Total,10:0.00} {cpu.Apis,6:0.00} {cpu.Relay,6:0.00} {cpu.Client,6:0.00} | {cpu.Postgres,6:0.00} {cpu.Redis,6:0.00} | {result.Unanswered}"));
            }

            LoadRun? paced = null;
            if (rate > 0 && pacedSessions > 0)
            {
                var interval = TimeSpan.FromSeconds(pacedSessions / rate);
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Open loop: {pacedSessions} sessions over both instances offering {rate:0} messages/s together (each sends every {interval.TotalMilliseconds:0.#} ms)"));
                var chats = await ChatSlots.CreateAsync(pacedSessions, (i, cancel) => BenchApi.CreateSessionAsync(clients[i % 2], cancel));
                await chats.WarmAsync(i => BenchApi.SendAsync(clients[i % 2], chats[i]));
                var pacedFrom = DateTimeOffset.UtcNow;
                CpuMark? cpuBefore = null;
                paced = await LoadLoops.OpenAsync(pacedSessions, interval, seconds,
                    (i, cancel) => BenchApi.SendAsync(clients[i % 2], chats[i], cancel), chats.PrepareAsync,
                    () => cpuBefore = CpuMark.Now(children));
                // CPU from the window's start to the end of the run, over the messages finished in that span: behind its
                // schedule, a session is still sending messages that were due before the window.
                var cpu = cpuBefore!.PerMessage(children, paced.Finished);
                failures += paced.Failures;
                notSent += paced.NotSent;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{pacedSessions,8} | p50 {paced.P50:0.00} ms, p99 {paced.P99:0.00} ms, answered {paced.PerSecond:0}/s of {rate:0}/s offered | cpu {cpu.Total:0.00} ms/msg (api {cpu.Apis:0.00}, relay {cpu.Relay:0.00}, client {cpu.Client:0.00}; servers: PostgreSQL {cpu.Postgres:0.00}, Redis {cpu.Redis:0.00}) | {paced.Unanswered}"));
                if (stages)
                {
                    await PrintStagesAsync(new NpgsqlConnectionStringBuilder(postgres) { Database = database }.ConnectionString,
                        pacedFrom);
                }
            }

            Console.WriteLine();
            var closed = atHundred is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"; closed loop at 100 sessions: {c.PerSecond:0} msg/s (p50 {c.P50:0.0} ms ≈ 100 / throughput, not a latency figure)")
                : "";
            if (paced is { } p)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Against the targets, judged on the OPEN-LOOP row ({pacedSessions} sessions offering {rate:0}/s): p99 {p.P99:0.00} ms (<= 50: {verdicts.Judge("p99 <= 50 ms", p, p.P99 <= 50)}), {p.PerSecond:0.0} answered/s (>= 1,000: {verdicts.Judge(">= 1,000 answered/s", p, p.PerSecond >= 1000)}){closed}"));
            }
            else if (atHundred is { } r)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Against the targets: open loop skipped (--rate 0), so p99 is not judged; closed loop at 100 sessions: {r.PerSecond:0.0} answered/s (>= 1,000: {verdicts.Judge(">= 1,000 answered/s (closed loop)", r, r.PerSecond >= 1000)})"));
            }

            Console.WriteLine($"Failed requests: {failures}; messages not sent (a session behind its schedule): {notSent}");
            return verdicts.ExitStatus(failures + notSent > 0);
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync();
            }

            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(postgres, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Where the open loop's requests spent their time on the server side, from the timestamps each request stores (all
    /// taken from the same machine's clock): queued (the API handler's <c>created_at</c> → the dispatcher's
    /// <c>dispatched_at</c>: group commit, NOTIFY, claim, the chat's reads) and relayed (→ <c>finished_at</c>: the
    /// envelope to the worker and the answer back to the dispatcher). The rest of a message's latency is the HTTP
    /// request before the handler and, after <c>finished_at</c>, the answer's commit, its event and the response.
    /// </summary>
    private static async Task PrintStagesAsync(string connectionString, DateTimeOffset from)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT stage,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.9) WITHIN GROUP (ORDER BY ms),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), count(*)
            FROM relay_requests r
            CROSS JOIN LATERAL (VALUES
                (1, 'queued', extract(epoch FROM r.dispatched_at - r.created_at) * 1000),
                (2, 'relayed', extract(epoch FROM r.finished_at - r.dispatched_at) * 1000),
                (3, 'both', extract(epoch FROM r.finished_at - r.created_at) * 1000)) AS s (n, stage, ms)
            WHERE r.created_at >= @from AND r.status = 'completed'
            GROUP BY n, stage ORDER BY n
            """, connection);
        command.Parameters.AddWithValue("from", from);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"         stage {reader.GetString(0),-8} p50 {reader.GetDouble(1),7:0.00} ms, p90 {reader.GetDouble(2),7:0.00} ms, p99 {reader.GetDouble(3),7:0.00} ms ({reader.GetInt64(4)} requests)"));
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task WaitForWorkerAsync(HttpClient[] clients, ChildProcess relay)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var online = 0;
            foreach (var client in clients)
            {
                var status = await client.GetFromJsonAsync<JsonElement>("api/v1/status");
                online += status.GetProperty("workersOnline").GetInt32() > 0 ? 1 : 0;
            }

            if (online == clients.Length)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The API instances never saw the relay host's worker:{Environment.NewLine}{relay.Output}");
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>
/// CPU milliseconds per answered message: Total is the .NET processes (both API instances, the relay host, the load
/// generator); PostgreSQL and Redis are their servers' processes on this machine (0 when they run elsewhere).
/// </summary>
internal sealed record CpuShare(double Total, double Apis, double Relay, double Client, double Postgres, double Redis);

/// <summary>The CPU time used so far by the child processes (relay host, API #1, API #2), this load generator and the
/// local PostgreSQL and Redis servers.</summary>
internal sealed record CpuMark(TimeSpan[] Children, TimeSpan Client, TimeSpan Postgres, TimeSpan Redis)
{
    public static CpuMark Now(IReadOnlyList<ChildProcess> children) =>
        new(children.Select(c => c.CpuTime).ToArray(), Environment.CpuUsage.TotalTime,
            ServerCpu("postgres"), ServerCpu("redis-server"));

    public CpuShare PerMessage(IReadOnlyList<ChildProcess> children, int messages)
    {
        var count = Math.Max(1, messages);
        var spent = children.Select((c, i) => (c.CpuTime - Children[i]).TotalMilliseconds).ToArray();
        var client = (Environment.CpuUsage.TotalTime - Client).TotalMilliseconds;
        var postgres = (ServerCpu("postgres") - Postgres).TotalMilliseconds;
        var redis = (ServerCpu("redis-server") - Redis).TotalMilliseconds;
        return new CpuShare((spent.Sum() + client) / count, (spent[1] + spent[2]) / count, spent[0] / count,
            client / count, Math.Max(0, postgres) / count, Math.Max(0, redis) / count);
    }

    /// <summary>
    /// User + system time of every process of this name (/proc/PID/stat, in clock ticks of 10 ms). A backend that
    /// exits between two marks takes its time with it, so PostgreSQL's figure is a floor; the pool keeps its
    /// connections, so few do.
    /// </summary>
    private static TimeSpan ServerCpu(string name)
    {
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (!char.IsAsciiDigit(Path.GetFileName(dir)[0]) || File.ReadAllText(Path.Combine(dir, "comm")).Trim() != name)
                {
                    continue;
                }

                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read.
            }
        }

        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}

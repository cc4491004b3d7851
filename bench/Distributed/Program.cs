using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Bench.Distributed;
using Npgsql;

// Relay benchmark in distributed mode: two API instances (Presentation.Api, Relay:Dispatcher=External) and one relay
// host (dispatcher + instant-engine worker, see RelayHost) as separate processes on PostgreSQL and Redis. N sessions,
// spread over both instances, each send a message and wait for its answer (POST /send?wait=true): the request goes
// through the PostgreSQL outbox (LISTEN/NOTIFY wakes the relay host), the answer comes back through Redis pub/sub.
//   usage: bench/distributed.sh [--seconds 10] [--concurrency 1,10,100] [--warmup 20 (seconds of unmeasured load first)]
//   (needs MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS; bench/distributed.sh starts both servers when unset)
internal static class DistributedBenchmark
{
    private const int ChatLength = 20;

    public static async Task<int> Main(string[] args)
    {
        if (args.FirstOrDefault() == "relay")
        {
            return await RelayHost.RunAsync(args[1..]);
        }

        var seconds = 10.0;
        var warmup = 20.0;
        var levels = new[] { 1, 10, 100 };
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
            var token = await SignUpAsync(clients[0]);
            foreach (var client in clients)
            {
                client.DefaultRequestHeaders.Authorization = new("Bearer", token);
            }

            await WaitForWorkerAsync(clients, relay);

            Console.WriteLine($"MeatLizard relay benchmark — distributed mode: 2 API processes + 1 relay process (dispatcher + instant-engine worker over the in-process transport), PostgreSQL + Redis, {Environment.ProcessorCount} cores, {seconds:0.#} s per level, chats of {ChatLength} messages");
            Console.WriteLine("Each message: POST /send?wait=true at one API instance → PostgreSQL outbox + NOTIFY → relay process dispatches, worker answers → answer stored → Redis pub/sub → the API instance answers.");
            Console.WriteLine("CPU ms/msg adds the CPU time of all four processes (two APIs, relay host, this load generator).");
            // Three fresh processes: run the whole path for a while first, so the JIT's tiering (slow on a busy machine)
            // is done before anything is measured.
            if (warmup > 0)
            {
                var warm = new List<Guid>();
                for (var s = 0; s < 20; s++)
                {
                    warm.Add(await CreateSessionAsync(clients[s % 2]));
                }

                var warmSent = new int[warm.Count];
                await MeasureAsync(warm.Count, warmup, children, i => SendAsync(clients[i % 2], warm[i]), async i =>
                {
                    if (++warmSent[i] % ChatLength == 0)
                    {
                        warm[i] = await CreateSessionAsync(clients[i % 2]);
                    }
                });
            }

            // What the processes burn doing nothing (timers, pollers, heartbeats), so it is not blamed on messages.
            var idleBefore = children.Select(c => c.CpuTime).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(3));
            var idle = children.Select((c, i) => (c.CpuTime - idleBefore[i]).TotalMilliseconds / 3).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Idle CPU ms per second: relay host {idle[0]:0.0}, API #1 {idle[1]:0.0}, API #2 {idle[2]:0.0}"));
            Console.WriteLine();
            Console.WriteLine($"{"sessions",8} | {"p50 ms",8} {"p99 ms",8} {"msg/s",8} | {"cpu ms/msg",10} {"api",6} {"relay",6} {"client",6} | failed");
            Console.WriteLine(new string('-', 82));
            var failures = 0;
            Result? atHundred = null;
            foreach (var concurrency in levels)
            {
                // Session i lives on instance i % 2 and sends there; the relay host answers both.
                var sessions = new List<Guid>();
                for (var s = 0; s < concurrency; s++)
                {
                    sessions.Add(await CreateSessionAsync(clients[s % 2]));
                }

                await Task.WhenAll(sessions.Select((id, s) => SendAsync(clients[s % 2], id)));
                var sent = new int[concurrency];
                var result = await MeasureAsync(concurrency, seconds, children,
                    i => SendAsync(clients[i % 2], sessions[i]),
                    async i =>
                    {
                        if (++sent[i] % ChatLength == 0)
                        {
                            sessions[i] = await CreateSessionAsync(clients[i % 2]);
                        }
                    });
                failures += result.Failures;
                if (concurrency == 100)
                {
                    atHundred = result;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{concurrency,8} | {result.P50,8:0.00} {result.P99,8:0.00} {result.PerSecond,8:0} | {result.CpuMs.Total,10:0.00} {result.CpuMs.Apis,6:0.00} {result.CpuMs.Relay,6:0.00} {result.CpuMs.Client,6:0.00} | {result.Failures}"));
            }

            Console.WriteLine();
            if (atHundred is { } r)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Against the targets at 100 sessions: p99 {r.P99:0.0} ms (<= 50: {Verdict(r.P99 <= 50)}), {r.PerSecond:0} answered/s (>= 1,000: {Verdict(Math.Round(r.PerSecond) >= 1000)})"));
            }

            Console.WriteLine($"Failed requests: {failures}");
            return failures == 0 ? 0 : 1;
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

    private static string Verdict(bool met) => met ? "met" : "NOT met";

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

    private static async Task<string> SignUpAsync(HttpClient http)
    {
        var credentials = new { username = "bench_" + Guid.NewGuid().ToString("N")[..8], password = "benchmark password" };
        (await http.PostAsJsonAsync("api/v1/auth/register", credentials)).EnsureSuccessStatusCode();
        var login = await http.PostAsJsonAsync("api/v1/auth/login", credentials);
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    private static async Task<bool> SendAsync(HttpClient http, Guid sessionId)
    {
        using var response = await http.PostAsJsonAsync($"api/v1/sessions/{sessionId}/send?wait=true", new { content = "What is the answer?" });
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }

        var message = await response.Content.ReadFromJsonAsync<JsonElement>();
        return message.GetProperty("source").GetString() == "model";
    }

    private static async Task<Guid> CreateSessionAsync(HttpClient http)
    {
        var created = await http.PostAsJsonAsync("api/v1/sessions", new { title = "bench" });
        created.EnsureSuccessStatusCode();
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<Result> MeasureAsync(int concurrency, double seconds, IReadOnlyList<ChildProcess> children,
        Func<int, Task<bool>> operation, Func<int, Task> prepare)
    {
        var latencies = new List<double>[concurrency];
        var failures = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var childrenBefore = children.Select(c => c.CpuTime).ToArray();
        var clientBefore = Environment.CpuUsage.TotalTime;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
        {
            latencies[i] = [];
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var t0 = Stopwatch.GetTimestamp();
                var ok = await operation(i);
                latencies[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (!ok)
                {
                    Interlocked.Increment(ref failures);
                }

                await prepare(i);
            }
        })));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        var count = Math.Max(1, all.Length);
        var spent = children.Select((c, i) => (c.CpuTime - childrenBefore[i]).TotalMilliseconds).ToArray();
        var client = (Environment.CpuUsage.TotalTime - clientBefore).TotalMilliseconds;
        var cpu = new CpuShare(
            (spent.Sum() + client) / count, (spent[1] + spent[2]) / count, spent[0] / count, client / count);
        return new Result(Percentile(all, 0.50), Percentile(all, 0.99), all.Length / elapsed, failures, cpu);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>CPU milliseconds per answered message: all processes, both API instances, the relay host, the load generator.</summary>
internal sealed record CpuShare(double Total, double Apis, double Relay, double Client);

internal sealed record Result(double P50, double P99, double PerSecond, int Failures, CpuShare CpuMs);

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Bench.Relay;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

// Relay benchmark (embedded mode): N concurrent sessions each send a message through the API and wait for the
// answer (POST /send?wait=true) with an engine that answers instantly; the same load is then run against the engine
// directly. The difference is the platform's own overhead.
// Then an open-loop run: --paced-sessions sessions (default 100) together offer --rate messages/s (default 1000;
// 0 skips it), latency measured from each scheduled send.
//   usage: bench/run.sh [--seconds 10] [--concurrency 1,10,100] [--rate 1000] [--paced-sessions 100]
//                       [--api-only (skip the engine-alone runs, for profiling)]
//                       [--alloc-types (list the types allocated most)]
internal static class RelayBenchmark
{
    private const int ChatLength = 20;

    public static async Task<int> Main(string[] args)
    {
        var seconds = 10.0;
        var levels = new[] { 1, 10, 100 };
        var rate = 1000.0;
        var pacedSessions = 100;
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--seconds")
            {
                seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
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

        var dataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-bench", Guid.NewGuid().ToString("N"));
        await using var factory = new BenchHost(dataRoot);
        var baseAddress = await factory.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, UseCookies = false })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(120),
        };
        var token = await SignUpAsync(http);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);

        Console.WriteLine($"MeatLizard relay benchmark — embedded mode (SQLite, in-process encrypted relay), {Environment.ProcessorCount} cores, {seconds:0.#} s per level, chats of {ChatLength} messages");
        Console.WriteLine();
        Console.WriteLine($"{"sessions",8} | {"api p50 ms",10} {"api p99 ms",10} {"api msg/s",10} | {"engine p50",10} {"engine p99",10} {"engine/s",10} | {"overhead p50",12} {"overhead p99",12} {"ratio p50",9} | {"cpu ms/msg",10}");
        Console.WriteLine(new string('-', 137));
        if (args.Contains("--probe-http"))
        {
            // How much of the cost is HTTP + authentication alone: a read of one session at the same concurrency.
            var probeSession = (await (await http.PostAsJsonAsync("api/v1/sessions", new { title = "probe" })).Content
                .ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            foreach (var concurrency in levels)
            {
                var probe = await MeasureAsync(concurrency, seconds, async _ =>
                {
                    using var response = await http.GetAsync($"api/v1/sessions/{probeSession}");
                    return response.IsSuccessStatusCode;
                });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"GET session, {concurrency,3} concurrent: p50 {probe.P50:0.00} ms, p99 {probe.P99:0.00} ms, {probe.PerSecond:0}/s"));
            }

            return 0;
        }

        using var allocations = args.Contains("--alloc-types") ? new AllocationSampler() : null;
        var engine = new InstantEngine();
        var failures = 0;
        foreach (var concurrency in levels)
        {
            var sessions = new List<Guid>();
            for (var s = 0; s < concurrency; s++)
            {
                sessions.Add(await CreateSessionAsync(http));
            }

            // Warm up every session once (JIT, connection pool, SQLite pages).
            await Task.WhenAll(sessions.Select(id => SendAsync(http, id)));
            // A chat of a typical length: each session takes ChatLength messages, then its slot starts a new chat
            // (created outside the timed part), so the prompt history stays realistic instead of growing all run.
            var sent = new int[concurrency];
            var api = await MeasureAsync(concurrency, seconds, i => SendAsync(http, sessions[i]), async i =>
            {
                if (++sent[i] % ChatLength == 0)
                {
                    sessions[i] = await CreateSessionAsync(http);
                }
            });
            var direct = args.Contains("--api-only") ? new Result(0, 0, 0, 0) : await MeasureAsync(concurrency, seconds, async i =>
            {
                var request = new InferenceRequest(Guid.NewGuid(), sessions[i], "default", null,
                    [new MeatLizard.Application.Common.Models.ChatTurn(MeatLizard.Domain.Messages.MessageRole.User, "bench")],
                    null, null, 64);
                var text = 0;
                await foreach (var update in engine.GenerateAsync(request, CancellationToken.None))
                {
                    text += update is InferenceDelta d ? d.Text.Length : 0;
                }

                return text > 0;
            });
            failures += api.Failures;
            var overheadP50 = api.P50 - direct.P50;
            var overheadP99 = api.P99 - direct.P99;
            var ratio = direct.P50 > 0 ? api.P50 / direct.P50 : double.PositiveInfinity;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{concurrency,8} | {api.P50,10:0.00} {api.P99,10:0.00} {api.PerSecond,10:0} | {direct.P50,10:0.000} {direct.P99,10:0.000} {direct.PerSecond,10:0} | {overheadP50,12:0.00} {overheadP99,12:0.00} {ratio,9:0}x | {api.CpuMsPerOperation,10:0.00} | failed {api.Failures}"));
        }

        if (rate > 0 && pacedSessions > 0)
        {
            // Open loop: the sessions together offer a fixed rate, each sending on its own schedule (phases spread
            // evenly). Latency is measured from the scheduled send, so time spent waiting behind a slow answer (or a
            // late timer) counts instead of silently lowering the offered load.
            var interval = TimeSpan.FromSeconds(pacedSessions / rate);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Open loop: {pacedSessions} sessions offering {rate:0} messages/s together (each sends every {interval.TotalMilliseconds:0.#} ms)"));
            var sessions = new List<Guid>();
            for (var s = 0; s < pacedSessions; s++)
            {
                sessions.Add(await CreateSessionAsync(http));
            }

            await Task.WhenAll(sessions.Select(id => SendAsync(http, id)));
            var sent = new int[pacedSessions];
            var paced = await MeasurePacedAsync(pacedSessions, interval, seconds, i => SendAsync(http, sessions[i]), async i =>
            {
                if (++sent[i] % ChatLength == 0)
                {
                    sessions[i] = await CreateSessionAsync(http);
                }
            });
            failures += paced.Failures;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{pacedSessions,8} | p50 {paced.P50:0.00} ms, p99 {paced.P99:0.00} ms, answered {paced.PerSecond:0.0}/s of {rate:0}/s offered | cpu {paced.CpuMsPerOperation:0.00} ms/msg | failed {paced.Failures}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"         | in the window: {paced.Gc}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Against the targets (the engine alone takes ~0 ms, so overhead = latency): p50 {paced.P50:0.0} ms (<= 5: {Verdict(paced.P50 <= 5, paced)}), p99 {paced.P99:0.0} ms (<= 25: {Verdict(paced.P99 <= 25, paced)}), {paced.PerSecond:0.0} answered/s (>= 1,000: {Verdict(paced.PerSecond >= 1000, paced)})"));
        }

        if (allocations is not null)
        {
            Console.WriteLine();
            Console.WriteLine("Most allocated types (sampled):");
            foreach (var (type, bytes) in allocations.Top(25))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0,10:0.0} MB  {type}"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("Targets at 100 sessions: overhead p50 <= 5 ms, p99 <= 25 ms, >= 1,000 answered messages/s.");
        Console.WriteLine($"Failed requests: {failures}");
        return failures == 0 ? 0 : 1;

        static async Task<string> SignUpAsync(HttpClient http)
        {
            var credentials = new { username = "bench_" + Guid.NewGuid().ToString("N")[..8], password = "benchmark password" };
            (await http.PostAsJsonAsync("api/v1/auth/register", credentials)).EnsureSuccessStatusCode();
            var login = await http.PostAsJsonAsync("api/v1/auth/login", credentials);
            login.EnsureSuccessStatusCode();
            return (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
        }

        static async Task<bool> SendAsync(HttpClient http, Guid sessionId)
        {
            using var response = await http.PostAsJsonAsync($"api/v1/sessions/{sessionId}/send?wait=true", new { content = "What is the answer?" });
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }

            var message = await response.Content.ReadFromJsonAsync<JsonElement>();
            return message.GetProperty("source").GetString() == "model";
        }

        static async Task<Guid> CreateSessionAsync(HttpClient http)
        {
            var created = await http.PostAsJsonAsync("api/v1/sessions", new { title = "bench" });
            created.EnsureSuccessStatusCode();
            return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }

        static async Task<Result> MeasureAsync(
            int concurrency, double seconds, Func<int, Task<bool>> operation, Func<int, Task>? prepare = null)
        {
            var latencies = new List<double>[concurrency];
            var failures = 0;
            var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
            var started = Stopwatch.GetTimestamp();
            var cpuBefore = Environment.CpuUsage.TotalTime;
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
            {
                latencies[i] = [];
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var ok = await operation(i);
                    if (ok)
                    {
                        latencies[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
                    else
                    {
                        Interlocked.Increment(ref failures);
                    }

                    if (prepare is not null)
                    {
                        await prepare(i);
                    }
                }
            })));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            // CPU time of the whole process (server and client) per operation: steadier than throughput when the
            // machine is shared, and what bounds throughput on a saturated machine.
            var cpuPerOperation = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / Math.Max(1, all.Length);
            return new Result(Percentile(all, 0.50), Percentile(all, 0.99), all.Length / elapsed, failures, cpuPerOperation);
        }

        static async Task<Result> MeasurePacedAsync(
            int sessions, TimeSpan interval, double seconds, Func<int, Task<bool>> operation, Func<int, Task> prepare)
        {
            // The schedule runs for a warm-up second before the measured window, so the window sees steady load from
            // its first moment: throughput = answers that arrived within the window, over the window.
            var latencies = new List<double>[sessions];
            var failures = 0;
            var answeredInWindow = 0;
            var step = (long)(interval.TotalSeconds * Stopwatch.Frequency);
            var begin = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            var windowStart = begin + Stopwatch.Frequency;
            var windowEnd = windowStart + (long)(seconds * Stopwatch.Frequency);
            var cpuBefore = TimeSpan.Zero;
            GcFigures? gcBefore = null;
            var cpuTask = Task.Run(async () =>
            {
                await Task.Delay(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), windowStart));
                cpuBefore = Environment.CpuUsage.TotalTime;
                gcBefore = GcFigures.Now();
            });
            await Task.WhenAll(Enumerable.Range(0, sessions).Select(i => Task.Run(async () =>
            {
                latencies[i] = [];
                for (var due = begin + step * i / sessions; due < windowEnd; due += step)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }

                    var ok = await operation(i);
                    var done = Stopwatch.GetTimestamp();
                    if (!ok)
                    {
                        // A failed send is no answer: it counts against the verdict, never as a (fast) latency.
                        Interlocked.Increment(ref failures);
                        await prepare(i);
                        continue;
                    }

                    if (due >= windowStart)
                    {
                        latencies[i].Add(Stopwatch.GetElapsedTime(due, done).TotalMilliseconds);
                    }

                    if (done >= windowStart && done <= windowEnd)
                    {
                        Interlocked.Increment(ref answeredInWindow);
                    }

                    await prepare(i);
                }
            })));
            await cpuTask;
            var gc = GcFigures.Now().Since(gcBefore!);
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var cpuPerOperation = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / Math.Max(1, all.Length);
            return new Result(Percentile(all, 0.50), Percentile(all, 0.99), answeredInWindow / seconds, failures, cpuPerOperation, gc);
        }

        // A figure meets its target only when every request of the run was answered: failures are not averaged away,
        // and the throughput is compared unrounded (999.5/s is below 1,000/s).
        static string Verdict(bool met, Result run) =>
            run.Failures > 0 ? $"NOT met, {run.Failures} requests failed" : met ? "met" : "NOT met";

        static double Percentile(double[] sorted, double p) =>
            sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}

internal sealed record Result(
    double P50, double P99, double PerSecond, int Failures, double CpuMsPerOperation = 0, GcFigures? Gc = null);

/// <summary>Garbage collections and the time the runtime was paused for them: a suspect for the latency tail.</summary>
internal sealed record GcFigures(int Gen0, int Gen1, int Gen2, TimeSpan Paused, long Allocated)
{
    public static GcFigures Now() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());

    public GcFigures Since(GcFigures before) => new(Gen0 - before.Gen0, Gen1 - before.Gen1, Gen2 - before.Gen2,
        Paused - before.Paused, Allocated - before.Allocated);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"GC {Gen0} gen0 / {Gen1} gen1 / {Gen2} gen2 collections, paused {Paused.TotalMilliseconds:0} ms in all, {Allocated / 1048576.0:0} MB allocated");
}

/// <summary>The real API host on a loopback Kestrel port with the instant engine as its local worker.</summary>
internal sealed class BenchHost(string dataRoot) : WebApplicationFactory<Program>
{
    public async Task<Uri> StartAsync()
    {
        // The API's content root is its own folder in the repository (appsettings.json lives there).
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_MEATLIZARD_PRESENTATION_API",
            Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Presentation.Api")));
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var presence = Services.GetRequiredService<IWorkerPresence>();
        while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
        {
            await Task.Delay(20);
        }

        return new Uri(address + "/");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Data:Root", dataRoot);
        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.UseSetting("RateLimits:PerUserPerMinute", "0");
        builder.UseSetting("RateLimits:PerIpPerMinute", "0");
        // One bench user drives every session: its chats and waiting calls are not capped either.
        builder.UseSetting("RateLimits:ChatCreationPerUserPerMinute", "0");
        builder.UseSetting("RateLimits:MaxWaitingCallsPerUser", "0");
        builder.UseSetting("Relay:PartialInterval", "00:00:00.050");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.ConfigureTestServices(services => services.AddSingleton<IInferenceEngine, InstantEngine>());
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// --alloc-types: which types the run allocates most, from the runtime's allocation sampling (one event about every
/// 100 KB allocated), to find what to cut when the GC figures above are high.
/// </summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytes = new();

    public IEnumerable<(string Type, long Bytes)> Top(int count) =>
        _bytes.OrderByDescending(p => p.Value).Take(count).Select(p => (p.Key, p.Value));

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true
            && eventData.PayloadNames is { } names)
        {
            var type = eventData.Payload![names.IndexOf("TypeName")] as string ?? "?";
            var amount = Convert.ToInt64(eventData.Payload[names.IndexOf("AllocationAmount")], CultureInfo.InvariantCulture);
            _bytes.AddOrUpdate(type, amount, (_, total) => total + amount);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Bench;
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
//                       [--no-verdict (measure only: the targets do not set the exit status)]
// Exits 1 when a target is NOT met (judged on the open loop) or a request failed or was not sent.
internal static class RelayBenchmark
{
    public static async Task<int> Main(string[] args)
    {
        (var verdicts, args) = Verdicts.Parse(args);
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
        var token = await BenchApi.SignUpAsync(http);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);

        Console.WriteLine($"MeatLizard relay benchmark — embedded mode (SQLite, in-process encrypted relay), {Environment.ProcessorCount} cores, {seconds:0.#} s per level, chats of {ChatSlots.ChatLength} messages");
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
                var probe = await LoadLoops.ClosedAsync(concurrency, seconds, async (_, cancel) =>
                {
                    using var response = await http.GetAsync($"api/v1/sessions/{probeSession}", cancel);
                    return response.IsSuccessStatusCode;
                }, (_, _) => Task.CompletedTask);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"GET session, {concurrency,3} concurrent: p50 {probe.P50:0.00} ms, p99 {probe.P99:0.00} ms, {probe.PerSecond:0}/s, {probe.Unanswered}"));
            }

            return 0;
        }

        using var allocations = args.Contains("--alloc-types") ? new AllocationSampler() : null;
        var engine = new InstantEngine();
        var failures = 0;
        var notSent = 0;
        foreach (var concurrency in levels)
        {
            var chats = await ChatSlots.CreateAsync(concurrency, (_, cancel) => BenchApi.CreateSessionAsync(http, cancel));
            await chats.WarmAsync(i => BenchApi.SendAsync(http, chats[i]));
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var api = await LoadLoops.ClosedAsync(concurrency, seconds,
                (i, cancel) => BenchApi.SendAsync(http, chats[i], cancel), chats.PrepareAsync);
            var cpuPerMessage = CpuMsPerMessage(cpuBefore, api.Finished);
            var direct = args.Contains("--api-only") ? new LoadRun([0], 0, 0, 0, 0) : await LoadLoops.ClosedAsync(concurrency, seconds,
                async (i, cancel) =>
                {
                    var request = new InferenceRequest(Guid.NewGuid(), chats[i], "default", null,
                        [new MeatLizard.Application.Common.Models.ChatTurn(MeatLizard.Domain.Messages.MessageRole.User, "bench")],
                        null, null, 64);
                    var text = 0;
                    await foreach (var update in engine.GenerateAsync(request, cancel))
                    {
                        text += update is InferenceDelta d ? d.Text.Length : 0;
                    }

                    return text > 0;
                },
                (_, _) => Task.CompletedTask);
            failures += api.Failures;
            var overheadP50 = api.P50 - direct.P50;
            var overheadP99 = api.P99 - direct.P99;
            var ratio = direct.P50 > 0 ? api.P50 / direct.P50 : double.PositiveInfinity;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{concurrency,8} | {api.P50,10:0.00} {api.P99,10:0.00} {api.PerSecond,10:0} | {direct.P50,10:0.000} {direct.P99,10:0.000} {direct.PerSecond,10:0} | {overheadP50,12:0.00} {overheadP99,12:0.00} {ratio,9:0}x | {cpuPerMessage,10:0.00} | {api.Unanswered}"));
        }

        if (rate > 0 && pacedSessions > 0)
        {
            var interval = TimeSpan.FromSeconds(pacedSessions / rate);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Open loop: {pacedSessions} sessions offering {rate:0} messages/s together (each sends every {interval.TotalMilliseconds:0.#} ms)"));
            var chats = await ChatSlots.CreateAsync(pacedSessions, (_, cancel) => BenchApi.CreateSessionAsync(http, cancel));
            await chats.WarmAsync(i => BenchApi.SendAsync(http, chats[i]));
            var cpuBefore = TimeSpan.Zero;
            GcFigures? gcBefore = null;
            var paced = await LoadLoops.OpenAsync(pacedSessions, interval, seconds,
                (i, cancel) => BenchApi.SendAsync(http, chats[i], cancel), chats.PrepareAsync, () =>
                {
                    cpuBefore = Environment.CpuUsage.TotalTime;
                    gcBefore = GcFigures.Now();
                });
            var gc = GcFigures.Now().Since(gcBefore!);
            failures += paced.Failures;
            notSent += paced.NotSent;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{pacedSessions,8} | p50 {paced.P50:0.00} ms, p99 {paced.P99:0.00} ms, answered {paced.PerSecond:0.0}/s of {rate:0}/s offered | cpu {CpuMsPerMessage(cpuBefore, paced.Finished):0.00} ms/msg | {paced.Unanswered}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"         | in the window: {gc}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Against the targets (the engine alone takes ~0 ms, so overhead = latency): p50 {paced.P50:0.00} ms (<= 5: {verdicts.Judge("p50 <= 5 ms", paced, paced.P50 <= 5)}), p99 {paced.P99:0.00} ms (<= 25: {verdicts.Judge("p99 <= 25 ms", paced, paced.P99 <= 25)}), {paced.PerSecond:0.0} answered/s (>= 1,000: {verdicts.Judge(">= 1,000 answered/s", paced, paced.PerSecond >= 1000)})"));
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
        Console.WriteLine($"Failed requests: {failures}; messages not sent (a session behind its schedule): {notSent}");
        return verdicts.ExitStatus(failures + notSent > 0);

        // CPU time of the whole process (server and client) per message: steadier than throughput when the machine is
        // shared, and what bounds throughput on a saturated machine.
        static double CpuMsPerMessage(TimeSpan before, int messages) =>
            (Environment.CpuUsage.TotalTime - before).TotalMilliseconds / Math.Max(1, messages);
    }
}

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
        await BenchOperator.SeedAsync(Services);
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var presence = Services.GetRequiredService<IHostPresence>();
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

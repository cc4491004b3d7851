using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// The runtime's allocation samples (one event per ~100 KB allocated, naming the type that crossed the line), summed by
/// type between <see cref="Start"/> and <see cref="Stop"/>: where a path's allocations go, without a profiler
/// (<c>MEATLIZARD_BENCH_ALLOCATIONS=1 bench/openai.sh …</c>). With them, the DI scopes disposed in the window and the
/// scoped services each had resolved (the container's own event source): a count, unlike CPU, that does not vary
/// between runs.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private readonly ConcurrentDictionary<int, int> _scopesBySize = new();

    private volatile bool _recording;

    public void Start() => _recording = true;

    public void Stop() => _recording = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
        else if (source.Name == "Microsoft-Extensions-DependencyInjection")
        {
            EnableEvents(source, EventLevel.Verbose);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs data)
    {
        if (_recording && data.EventName == "ScopeDisposed" && data.Payload is { } scope
            && data.PayloadNames?.IndexOf("scopedServicesResolved") is int r and >= 0)
        {
            _scopesBySize.AddOrUpdate(Convert.ToInt32(scope[r], CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            return;
        }

        if (!_recording || data.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || data.Payload is null)
        {
            return;
        }

        var type = data.PayloadNames?.IndexOf("TypeName") is int t and >= 0 ? data.Payload[t] as string ?? "?" : "?";
        var amount = data.PayloadNames?.IndexOf("AllocationAmount64") is int a and >= 0 ? Convert.ToInt64(data.Payload[a], CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }

    public void Print(string title, int requests)
    {
        Console.WriteLine($"  allocations sampled in {title}'s window, KB per request by type:");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(40))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {bytes / 1024.0 / Math.Max(1, requests),8:0.0}  {type}"));
        }

        _bytes.Clear();
        var scopes = _scopesBySize.Sum(p => p.Value);
        var services = _scopesBySize.Sum(p => (long)p.Key * p.Value);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  DI scopes disposed per request {scopes / (double)Math.Max(1, requests):0.00}, scoped services they resolved {services / (double)Math.Max(1, requests):0.0}; scopes by services resolved: {string.Join(", ", _scopesBySize.OrderByDescending(p => p.Value).Take(12).Select(p => $"{p.Key}×{p.Value}"))}"));
        _scopesBySize.Clear();
    }
}

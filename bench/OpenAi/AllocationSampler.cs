using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// The runtime's allocation samples (one event per ~100 KB allocated, naming the type that crossed the line), summed by
/// type between <see cref="Start"/> and <see cref="Stop"/>: where a path's allocations go, without a profiler
/// (<c>MEATLIZARD_BENCH_ALLOCATIONS=1 bench/openai.sh …</c>).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    private volatile bool _recording;

    public void Start() => _recording = true;

    public void Stop() => _recording = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs data)
    {
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
    }
}

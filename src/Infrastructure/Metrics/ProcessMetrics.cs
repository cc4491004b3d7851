using System.Diagnostics.Metrics;

namespace MeatLizard.Infrastructure.Metrics;

/// <summary>The process's memory, GC and CPU as observable instruments, read only when scraped.</summary>
public sealed class ProcessMetrics : IDisposable
{
    private static readonly KeyValuePair<string, object?>[] s_generations =
        [new("generation", "0"), new("generation", "1"), new("generation", "2")];

    private readonly Meter _meter;

    public ProcessMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);

        // A meter of its own (same name, "MeatLizard") so disposing it retires exactly these instruments.
        _meter = new Meter(new MeterOptions(MetricsExposition.MeterName) { Scope = meterFactory });
        _meter.CreateObservableGauge("meatlizard.process.memory.working_set", () => Environment.WorkingSet,
            unit: "By", description: "Physical memory the process uses");
        _meter.CreateObservableGauge("meatlizard.process.gc.heap", () => GC.GetTotalMemory(forceFullCollection: false),
            unit: "By", description: "Bytes currently thought to be allocated on the managed heap");
        // What the GC holds from the system for its heap: the process's memory less this is native (the C library's
        // heap, stacks, code) — the soak reads both to tell which grows.
        _meter.CreateObservableGauge("meatlizard.process.gc.committed", () => GC.GetGCMemoryInfo().TotalCommittedBytes,
            unit: "By", description: "Memory the garbage collector has committed for the managed heap");
        _meter.CreateObservableCounter("meatlizard.process.gc.allocated", () => GC.GetTotalAllocatedBytes(),
            unit: "By", description: "Bytes allocated on the managed heap since the process started");
        _meter.CreateObservableCounter("meatlizard.process.gc.collections", () => new[]
            {
                new Measurement<long>(GC.CollectionCount(0), s_generations[0]),
                new Measurement<long>(GC.CollectionCount(1), s_generations[1]),
                new Measurement<long>(GC.CollectionCount(2), s_generations[2]),
            },
            description: "Garbage collections since the process started, by generation");
        _meter.CreateObservableCounter("meatlizard.process.gc.pause", () => GC.GetTotalPauseDuration().TotalSeconds,
            unit: "s", description: "Time the process was paused for garbage collection");
        _meter.CreateObservableCounter("meatlizard.process.cpu", () => Environment.CpuUsage.TotalTime.TotalSeconds,
            unit: "s", description: "CPU time the process used, user and kernel");
    }

    public void Dispose() => _meter.Dispose();
}

using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace MeatLizard.Infrastructure.Metrics;

/// <summary>
/// Listens to this host's MeatLizard instruments (meter <c>MeatLizard</c> and <c>MeatLizard.*</c>, created by the
/// host's <see cref="IMeterFactory"/>, so test hosts in one process do not see each other's) and writes them in the
/// Prometheus text exposition format 0.0.4. Instrument names become metric names with <c>.</c> as <c>_</c>, the unit
/// <c>s</c> as a <c>_seconds</c> and <c>By</c> as a <c>_bytes</c> suffix, and counters end in <c>_total</c>.
/// </summary>
/// <remarks>
/// Recording is a lock-free scan of an instrument's few series plus an interlocked add; a new label set takes a lock
/// once. An instrument keeps at most <see cref="MaxSeriesPerInstrument"/> series: a label that is not bounded cannot
/// grow the process without limit (the measurements beyond are dropped).
/// </remarks>
public sealed class MetricsExposition : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public const string MeterName = "MeatLizard";

    public const int MaxSeriesPerInstrument = 500;

    /// <summary>Prometheus' own default buckets, for durations in seconds without advice.</summary>
    private static readonly double[] s_secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly double[] s_defaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly IMeterFactory _meterFactory;
    private readonly MeterListener _listener;
    private readonly Lock _instrumentsGate = new();
    private readonly List<InstrumentAggregate> _instruments = [];
    private readonly Lock _collectGate = new();

    public MetricsExposition(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meterFactory = meterFactory;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = (instrument, state) => Remove(state as InstrumentAggregate),
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentAggregate)state!).Record((double)value, tags));
        _listener.Start();
    }

    /// <summary>The exposition of every instrument measured so far (observable ones are read now).</summary>
    public string Collect()
    {
        var text = new StringBuilder(4096);
        lock (_collectGate)
        {
            InstrumentAggregate[] instruments;
            lock (_instrumentsGate)
            {
                instruments = [.. _instruments];
            }

            foreach (var observable in instruments.Where(i => i.IsObservable))
            {
                observable.Clear();
            }

            _listener.RecordObservableInstruments();
            foreach (var family in instruments.GroupBy(i => i.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                WriteFamily(text, family.Key, [.. family]);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        var meter = instrument.Meter;
        if (!ReferenceEquals(meter.Scope, _meterFactory)
            || !(meter.Name == MeterName || meter.Name.StartsWith(MeterName + ".", StringComparison.Ordinal)))
        {
            return;
        }

        var aggregate = new InstrumentAggregate(instrument);
        lock (_instrumentsGate)
        {
            _instruments.Add(aggregate);
        }

        listener.EnableMeasurementEvents(instrument, aggregate);
    }

    private void Remove(InstrumentAggregate? aggregate)
    {
        if (aggregate is null)
        {
            return;
        }

        lock (_instrumentsGate)
        {
            _instruments.Remove(aggregate);
        }
    }

    private static void WriteFamily(StringBuilder text, string name, InstrumentAggregate[] instruments)
    {
        // Two instruments of one name and different kinds cannot share a family: the first one published stays.
        var kind = instruments[0].Kind;
        var series = instruments.Where(i => i.Kind == kind).SelectMany(i => i.Snapshot())
            .DistinctBy(s => s.Labels, StringComparer.Ordinal)
            .OrderBy(s => s.Labels, StringComparer.Ordinal)
            .ToList();
        if (series.Count == 0)
        {
            return;
        }

        text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(instruments[0].Help)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(kind switch
        {
            MetricKind.Counter => "counter",
            MetricKind.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');
        foreach (var one in series)
        {
            if (kind != MetricKind.Histogram)
            {
                AppendSample(text, name, one.Labels, null, one.Value);
                continue;
            }

            long cumulative = 0;
            for (var i = 0; i < one.Bounds.Length; i++)
            {
                cumulative += one.BucketCounts[i];
                AppendSample(text, name + "_bucket", one.Labels, FormatValue(one.Bounds[i]), cumulative);
            }

            cumulative += one.BucketCounts[^1];
            AppendSample(text, name + "_bucket", one.Labels, "+Inf", cumulative);
            AppendSample(text, name + "_sum", one.Labels, null, one.Value);
            AppendSample(text, name + "_count", one.Labels, null, cumulative);
        }
    }

    private static void AppendSample(StringBuilder text, string name, string labels, string? le, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || le is not null)
        {
            text.Append('{').Append(labels);
            if (le is not null)
            {
                text.Append(labels.Length > 0 ? "," : string.Empty).Append("le=\"").Append(le).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    internal static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>A metric name from an instrument's name and unit, as said on the class.</summary>
    internal static string MetricName(string instrumentName, string? unit, MetricKind kind)
    {
        var name = Sanitize(instrumentName, allowColon: true);
        var suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => string.Empty,
        };
        if (suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal))
        {
            name += suffix;
        }

        if (kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    /// <summary>Every character a name may not hold becomes <c>_</c>, and a leading digit gets one before it.</summary>
    internal static string Sanitize(string name, bool allowColon)
    {
        var result = new StringBuilder(name.Length + 1);
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            result.Append('_');
        }

        foreach (var c in name)
        {
            result.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        return result.ToString();
    }

    internal static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    internal enum MetricKind
    {
        Counter,
        Gauge,
        Histogram,
    }

    /// <summary>What one series holds at a collection: labels written out, value (a histogram's sum) and buckets.</summary>
    private sealed record SeriesSnapshot(string Labels, double Value, double[] Bounds, long[] BucketCounts);

    /// <summary>One instrument's series.</summary>
    private sealed class InstrumentAggregate
    {
        private readonly bool _setsValue;
        private readonly double[] _bounds;
        private readonly Lock _gate = new();
        private volatile Series[] _series = [];

        public InstrumentAggregate(Instrument instrument)
        {
            IsObservable = instrument.IsObservable;
            var type = instrument.GetType();
            var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            Kind = definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>) ? MetricKind.Counter
                : definition == typeof(Histogram<>) ? MetricKind.Histogram
                : MetricKind.Gauge;

            // An observable reports its current value (a counter its total); so does a Gauge<T>; the rest add up.
            _setsValue = IsObservable || definition == typeof(Gauge<>);
            Name = MetricName(instrument.Name, instrument.Unit, Kind);
            Help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
            _bounds = Kind == MetricKind.Histogram ? BucketBounds(instrument) : [];
        }

        public string Name { get; }

        public string Help { get; }

        public MetricKind Kind { get; }

        public bool IsObservable { get; }

        public void Clear()
        {
            lock (_gate)
            {
                _series = [];
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Find(tags) ?? Add(tags);
            if (series is null)
            {
                return;
            }

            if (Kind == MetricKind.Histogram)
            {
                var bucket = 0;
                while (bucket < _bounds.Length && value > _bounds[bucket])
                {
                    bucket++;
                }

                Interlocked.Increment(ref series.BucketCounts[bucket]);
                AddDouble(ref series.Value, value);
            }
            else if (_setsValue)
            {
                Volatile.Write(ref series.Value, value);
            }
            else
            {
                AddDouble(ref series.Value, value);
            }
        }

        public IEnumerable<SeriesSnapshot> Snapshot() =>
            _series.Select(s => new SeriesSnapshot(s.Labels, Volatile.Read(ref s.Value), _bounds,
                [.. s.BucketCounts.Select(c => Interlocked.Read(ref c))]));

        private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var series in _series)
            {
                if (series.Matches(tags))
                {
                    return series;
                }
            }

            return null;
        }

        private Series? Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_gate)
            {
                if (Find(tags) is { } found)
                {
                    return found;
                }

                if (_series.Length >= MaxSeriesPerInstrument)
                {
                    return null;
                }

                var added = new Series(tags.ToArray(), Kind == MetricKind.Histogram ? _bounds.Length + 1 : 0);
                _series = [.. _series, added];
                return added;
            }
        }

        private static void AddDouble(ref double target, double value)
        {
            var current = Volatile.Read(ref target);
            while (true)
            {
                var seen = Interlocked.CompareExchange(ref target, current + value, current);
                if (seen.Equals(current))
                {
                    return;
                }

                current = seen;
            }
        }

        private static double[] BucketBounds(Instrument instrument)
        {
            var advised = instrument switch
            {
                Histogram<double> d => d.Advice?.HistogramBucketBoundaries?.ToArray(),
                Histogram<long> l => l.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                Histogram<int> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                _ => null,
            };
            var bounds = advised ?? (instrument.Unit == "s" ? s_secondsBuckets : s_defaultBuckets);
            return [.. bounds.Where(double.IsFinite).Distinct().Order()];
        }
    }

    private sealed class Series
    {
        private readonly KeyValuePair<string, object?>[] _tags;

        public double Value;

        public Series(KeyValuePair<string, object?>[] tags, int buckets)
        {
            _tags = tags;
            BucketCounts = new long[buckets];
            Labels = string.Join(",", tags
                .Select(t => (Name: Sanitize(t.Key, allowColon: false), Value: Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? string.Empty))
                .Where(t => t.Name != "le")
                .DistinctBy(t => t.Name, StringComparer.Ordinal)
                .OrderBy(t => t.Name, StringComparer.Ordinal)
                .Select(t => $"{t.Name}=\"{EscapeLabelValue(t.Value)}\""));
        }

        public long[] BucketCounts { get; }

        public string Labels { get; }

        /// <summary>Same tags in any order; compares the values as recorded, so a string or an int allocates nothing.</summary>
        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != _tags.Length)
            {
                return false;
            }

            foreach (var tag in tags)
            {
                var found = false;
                foreach (var own in _tags)
                {
                    if (string.Equals(own.Key, tag.Key, StringComparison.Ordinal))
                    {
                        found = Equals(own.Value, tag.Value);
                        break;
                    }
                }

                if (!found)
                {
                    return false;
                }
            }

            return true;
        }
    }
}

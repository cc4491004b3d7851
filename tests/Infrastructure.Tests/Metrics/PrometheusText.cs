using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MeatLizard.Tests.Metrics;

/// <summary>
/// A strict reader of the Prometheus text exposition format 0.0.4, for tests: it throws <see cref="FormatException"/>
/// naming the line on anything the format does not allow or that Prometheus would refuse (a sample before its family's
/// HELP and TYPE, a counter not ending in <c>_total</c>, histogram buckets that are not cumulative or lack
/// <c>le="+Inf"</c> equal to <c>_count</c>, a duplicate series). Linked into every test project that scrapes.
/// </summary>
public sealed partial class PrometheusText
{
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);

    private PrometheusText()
    {
    }

    public IReadOnlyDictionary<string, Family> Families => _families;

    /// <summary>The value of the one sample with this name and exactly these labels; null when there is none.</summary>
    public double? Value(string sampleName, params (string Name, string Value)[] labels)
    {
        var wanted = labels.ToDictionary(l => l.Name, l => l.Value, StringComparer.Ordinal);
        return _families.Values.SelectMany(f => f.Samples)
            .Where(s => s.Name == sampleName && s.Labels.Count == wanted.Count
                && wanted.All(w => s.Labels.TryGetValue(w.Key, out var v) && v == w.Value))
            .Select(s => (double?)s.Value).SingleOrDefault();
    }

    /// <summary>The sum of every sample with this name whose labels include these.</summary>
    public double Sum(string sampleName, params (string Name, string Value)[] labels) =>
        _families.Values.SelectMany(f => f.Samples)
            .Where(s => s.Name == sampleName && labels.All(w => s.Labels.TryGetValue(w.Name, out var v) && v == w.Value))
            .Sum(s => s.Value);

    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("The exposition must end with a line feed.");
        }

        var result = new PrometheusText();
        var seriesSeen = new HashSet<string>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        Family? current = null;
        for (var i = 0; i < lines.Length - 1; i++)
        {
            var line = lines[i];
            var where = $"line {i + 1} ({line})";
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                var comment = CommentLine().Match(line);
                if (!comment.Success)
                {
                    continue; // a plain comment
                }

                var kind = comment.Groups["kind"].Value;
                var name = comment.Groups["name"].Value;
                var rest = comment.Groups["rest"].Value;
                if (!MetricNamePattern().IsMatch(name))
                {
                    throw new FormatException($"Invalid metric name at {where}.");
                }

                if (!result._families.TryGetValue(name, out var family))
                {
                    if (result._families.Values.Any(f => f.Samples.Count > 0 && SampleBelongsTo(f, name)))
                    {
                        throw new FormatException($"Family {name} starts after samples with its name at {where}.");
                    }

                    family = new Family(name);
                    result._families.Add(name, family);
                }
                else if (family.Samples.Count > 0 || !ReferenceEquals(family, current))
                {
                    throw new FormatException($"Family {name} is written in two places at {where}.");
                }

                current = family;
                if (kind == "HELP")
                {
                    if (family.Help is not null)
                    {
                        throw new FormatException($"Second HELP for {name} at {where}.");
                    }

                    family.Help = UnescapeHelp(rest, where);
                }
                else
                {
                    if (family.Type is not null)
                    {
                        throw new FormatException($"Second TYPE for {name} at {where}.");
                    }

                    if (rest is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                    {
                        throw new FormatException($"Unknown type '{rest}' at {where}.");
                    }

                    family.Type = rest;
                }

                continue;
            }

            var sample = ParseSample(line, where);
            if (current is null || !SampleBelongsTo(current, sample.Name))
            {
                throw new FormatException($"Sample {sample.Name} outside its family's HELP and TYPE at {where}.");
            }

            if (current.Help is null || current.Type is null)
            {
                throw new FormatException($"Family {current.Name} needs one HELP and one TYPE before its samples, at {where}.");
            }

            if (!seriesSeen.Add(sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal)
                    .Select(l => $"{l.Key}={l.Value}")) + "}"))
            {
                throw new FormatException($"Duplicate series at {where}.");
            }

            current.Samples.Add(sample);
        }

        foreach (var family in result._families.Values)
        {
            Check(family);
        }

        return result;
    }

    private static bool SampleBelongsTo(Family family, string sampleName) => family.Type switch
    {
        "histogram" => sampleName == family.Name + "_bucket" || sampleName == family.Name + "_sum" || sampleName == family.Name + "_count",
        _ => sampleName == family.Name,
    };

    private static void Check(Family family)
    {
        if (family.Help is null || family.Type is null)
        {
            throw new FormatException($"Family {family.Name} lacks HELP or TYPE.");
        }

        if (family.Type == "counter")
        {
            if (!family.Name.EndsWith("_total", StringComparison.Ordinal))
            {
                throw new FormatException($"Counter {family.Name} does not end in _total.");
            }

            if (family.Samples.Any(s => s.Value < 0 || double.IsNaN(s.Value)))
            {
                throw new FormatException($"Counter {family.Name} has a negative value.");
            }
        }

        if (family.Type != "histogram")
        {
            if (family.Samples.Any(s => s.Labels.ContainsKey("le")))
            {
                throw new FormatException($"{family.Name} is no histogram but has an le label.");
            }

            return;
        }

        foreach (var series in family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le")
                     .OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")), StringComparer.Ordinal))
        {
            var buckets = series.Where(s => s.Name == family.Name + "_bucket").ToList();
            var sum = series.Where(s => s.Name == family.Name + "_sum").ToList();
            var count = series.Where(s => s.Name == family.Name + "_count").ToList();
            if (buckets.Count == 0 || sum.Count != 1 || count.Count != 1)
            {
                throw new FormatException($"Histogram {family.Name}{{{series.Key}}} needs buckets, one _sum and one _count.");
            }

            var bounds = buckets.Select(b => b.Labels.TryGetValue("le", out var le)
                ? ParseValue(le, $"le of {family.Name}")
                : throw new FormatException($"A bucket of {family.Name} has no le.")).ToList();
            for (var i = 1; i < buckets.Count; i++)
            {
                if (!(bounds[i] > bounds[i - 1]))
                {
                    throw new FormatException($"Buckets of {family.Name}{{{series.Key}}} are not in ascending le order.");
                }

                if (buckets[i].Value < buckets[i - 1].Value)
                {
                    throw new FormatException($"Buckets of {family.Name}{{{series.Key}}} are not cumulative.");
                }
            }

            if (!double.IsPositiveInfinity(bounds[^1]) || buckets[^1].Labels["le"] != "+Inf")
            {
                throw new FormatException($"Histogram {family.Name}{{{series.Key}}} does not end with le=\"+Inf\".");
            }

            if (buckets[^1].Value != count[0].Value)
            {
                throw new FormatException($"Histogram {family.Name}{{{series.Key}}}: the +Inf bucket differs from _count.");
            }
        }
    }

    private static Sample ParseSample(string line, string where)
    {
        var i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
        {
            i++;
        }

        var name = line[..i];
        if (!MetricNamePattern().IsMatch(name))
        {
            throw new FormatException($"Invalid metric name at {where}.");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}')
                {
                    i++;
                    break;
                }

                var start = i;
                while (i < line.Length && line[i] != '=')
                {
                    i++;
                }

                var labelName = line[start..i];
                if (!LabelNamePattern().IsMatch(labelName) || labelName.StartsWith("__", StringComparison.Ordinal))
                {
                    throw new FormatException($"Invalid label name '{labelName}' at {where}.");
                }

                if (i + 1 >= line.Length || line[i + 1] != '"')
                {
                    throw new FormatException($"Label value not quoted at {where}.");
                }

                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new FormatException($"Unterminated label value at {where}.");
                    }

                    var c = line[i++];
                    if (c == '"')
                    {
                        break;
                    }

                    if (c == '\\')
                    {
                        var escaped = i < line.Length ? line[i++] : throw new FormatException($"Dangling escape at {where}.");
                        value.Append(escaped switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"Invalid escape \\{escaped} at {where}."),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }

                if (!labels.TryAdd(labelName, value.ToString()))
                {
                    throw new FormatException($"Label {labelName} twice at {where}.");
                }

                if (i < line.Length && line[i] == ',')
                {
                    i++;
                }
                else if (i >= line.Length || line[i] != '}')
                {
                    throw new FormatException($"Expected , or }} after a label at {where}.");
                }
            }
        }

        if (i >= line.Length || line[i] != ' ')
        {
            throw new FormatException($"Expected one space before the value at {where}.");
        }

        var parts = line[(i + 1)..].Split(' ');
        if (parts.Length is < 1 or > 2 || parts.Any(p => p.Length == 0))
        {
            throw new FormatException($"Expected a value and an optional timestamp at {where}.");
        }

        if (parts.Length == 2 && !long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            throw new FormatException($"Invalid timestamp at {where}.");
        }

        return new Sample(name, labels, ParseValue(parts[0], where));
    }

    private static double ParseValue(string text, string where) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when ValuePattern().IsMatch(text)
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
        _ => throw new FormatException($"Invalid value '{text}' at {where}."),
    };

    private static string UnescapeHelp(string text, string where)
    {
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }

            result.Append(++i < text.Length ? text[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                _ => throw new FormatException($"Invalid escape in HELP at {where}."),
            } : throw new FormatException($"Dangling escape in HELP at {where}."));
        }

        return result.ToString();
    }

    [GeneratedRegex("^# (?<kind>HELP|TYPE) (?<name>[^ ]+)(?: (?<rest>.*))?$")]
    private static partial Regex CommentLine();

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricNamePattern();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelNamePattern();

    [GeneratedRegex(@"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")]
    private static partial Regex ValuePattern();

    public sealed class Family(string name)
    {
        public string Name { get; } = name;

        public string? Help { get; set; }

        public string? Type { get; set; }

        public List<Sample> Samples { get; } = [];
    }

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}

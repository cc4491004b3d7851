using System.Globalization;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// A period written as a number and a unit — <c>30m</c>, <c>6h</c>, <c>7d</c> — from one minute to 90 days.
/// </summary>
public static class MetricsPeriod
{
    public static readonly TimeSpan Default = TimeSpan.FromHours(1);

    public static readonly TimeSpan Longest = TimeSpan.FromDays(90);

    public const string Rule = "A period is a number and a unit, e.g. 30m, 6h or 7d (at most 90d).";

    public static bool TryParse(string? text, out TimeSpan period)
    {
        period = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length < 2
            || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count <= 0)
        {
            return false;
        }

        period = char.ToLowerInvariant(text[^1]) switch
        {
            'm' => TimeSpan.FromMinutes(count),
            'h' => TimeSpan.FromHours(count),
            'd' => TimeSpan.FromDays(count),
            _ => TimeSpan.Zero,
        };
        return period > TimeSpan.Zero && period <= Longest;
    }
}

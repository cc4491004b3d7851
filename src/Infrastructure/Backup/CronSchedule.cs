using System.Globalization;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// A five-field cron expression (minute hour day-of-month month day-of-week, in UTC). Each field is <c>*</c>, a number,
/// a range <c>a-b</c>, a step <c>*/n</c> or <c>a-b/n</c>, or a comma list of those. Day-of-week is 0-6 (0 = Sunday, 7
/// also Sunday). As in cron, when both day fields are restricted a day matching either one runs.
/// </summary>
public sealed class CronSchedule
{
    private readonly bool[] _minutes;
    private readonly bool[] _hours;
    private readonly bool[] _days;
    private readonly bool[] _months;
    private readonly bool[] _weekdays;
    private readonly bool _daysRestricted;
    private readonly bool _weekdaysRestricted;

    private CronSchedule(string[] fields)
    {
        _minutes = ParseField(fields[0], 0, 59, "minute");
        _hours = ParseField(fields[1], 0, 23, "hour");
        _days = ParseField(fields[2], 1, 31, "day of month");
        _months = ParseField(fields[3], 1, 12, "month");
        var weekdays = ParseField(fields[4], 0, 7, "day of week");
        weekdays[0] |= weekdays[7];
        _weekdays = weekdays;
        _daysRestricted = fields[2] != "*";
        _weekdaysRestricted = fields[4] != "*";
    }

    /// <summary>Throws <see cref="FormatException"/> with a message that says what is wrong.</summary>
    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var fields = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length != 5)
        {
            throw new FormatException(
                $"'{expression}' is not a cron expression of five fields (minute hour day-of-month month day-of-week).");
        }

        return new CronSchedule(fields);
    }

    /// <summary>The first whole minute strictly after <paramref name="after"/> that the schedule matches.</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        var utc = after.ToUniversalTime();
        var candidate = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero)
            .AddMinutes(1);

        // Every schedule that can match at all matches within about four years (29 February).
        var limit = candidate.AddYears(5);
        while (candidate < limit)
        {
            if (!_months[candidate.Month] || !DayMatches(candidate))
            {
                candidate = new DateTimeOffset(candidate.Year, candidate.Month, candidate.Day, 0, 0, 0, TimeSpan.Zero)
                    .AddDays(1);
                continue;
            }

            if (!_hours[candidate.Hour])
            {
                candidate = new DateTimeOffset(candidate.Year, candidate.Month, candidate.Day, candidate.Hour, 0, 0,
                    TimeSpan.Zero).AddHours(1);
                continue;
            }

            if (!_minutes[candidate.Minute])
            {
                candidate = candidate.AddMinutes(1);
                continue;
            }

            return candidate;
        }

        throw new InvalidOperationException("The schedule never matches a date.");
    }

    private bool DayMatches(DateTimeOffset day)
    {
        var byDate = _days[day.Day];
        var byWeekday = _weekdays[(int)day.DayOfWeek];
        return (_daysRestricted, _weekdaysRestricted) switch
        {
            (true, true) => byDate || byWeekday,
            (true, false) => byDate,
            (false, true) => byWeekday,
            _ => true,
        };
    }

    private static bool[] ParseField(string field, int min, int max, string name)
    {
        var allowed = new bool[max + 1];
        foreach (var part in field.Split(','))
        {
            var (range, step) = part.Split('/') switch
            {
                [var r] => (r, 1),
                [var r, var s] when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                    => (r, n),
                _ => throw new FormatException($"The {name} field '{field}' has a bad step."),
            };

            int from, to;
            if (range == "*")
            {
                (from, to) = (min, max);
            }
            else if (range.Split('-') is [var a, var b])
            {
                (from, to) = (Number(a, min, max, name, field), Number(b, min, max, name, field));
            }
            else
            {
                from = Number(range, min, max, name, field);
                to = step > 1 ? max : from;
            }

            if (from > to)
            {
                throw new FormatException($"The {name} field '{field}' has a range that runs backwards.");
            }

            for (var value = from; value <= to; value += step)
            {
                allowed[value] = true;
            }
        }

        return allowed;
    }

    private static int Number(string text, int min, int max, string name, string field) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"The {name} field '{field}' must hold numbers from {min} to {max}.");
}

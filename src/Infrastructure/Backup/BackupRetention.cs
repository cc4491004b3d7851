using System.Globalization;

namespace MeatLizard.Infrastructure.Backup;

/// <summary>
/// Which backups to keep: the newest of each of the <c>keepDaily</c> most recent days, and the newest of each of the
/// <c>keepWeekly</c> most recent ISO weeks (the two sets may overlap). Days and weeks count only when they hold a
/// backup, so a pause in backups never deletes the last good ones. Everything else goes.
/// </summary>
public static class BackupRetention
{
    public static IReadOnlyList<T> SelectExpired<T>(
        IEnumerable<T> backups, Func<T, DateTimeOffset> createdAt, int keepDaily, int keepWeekly)
    {
        ArgumentNullException.ThrowIfNull(backups);
        ArgumentNullException.ThrowIfNull(createdAt);
        var newestFirst = backups.OrderByDescending(createdAt).ToList();
        var keep = new HashSet<T>();
        Keep(newestFirst, b => createdAt(b).UtcDateTime.Date, keepDaily, keep);
        Keep(newestFirst, b => Week(createdAt(b)), keepWeekly, keep);
        return newestFirst.Where(b => !keep.Contains(b)).ToList();
    }

    private static void Keep<T, TPeriod>(List<T> newestFirst, Func<T, TPeriod> period, int count, HashSet<T> keep)
        where TPeriod : notnull
    {
        var seen = new HashSet<TPeriod>();
        foreach (var backup in newestFirst)
        {
            if (seen.Count >= count && !seen.Contains(period(backup)))
            {
                break;
            }

            if (seen.Add(period(backup)))
            {
                keep.Add(backup);
            }
        }
    }

    private static (int Year, int Week) Week(DateTimeOffset instant)
    {
        var day = instant.UtcDateTime;
        return (ISOWeek.GetYear(day), ISOWeek.GetWeekOfYear(day));
    }
}

using MeatLizard.Infrastructure.Backup;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Backup;

[TestFixture]
public sealed class BackupRetentionTests
{
    // Monday 2025-03-31, 03:00; one backup a day for 60 days back, and a second one on the newest day.
    private static readonly DateTimeOffset Newest = new(2025, 3, 31, 3, 0, 0, TimeSpan.Zero);

    [Test]
    public void KeepsTheNewestOfEachOfTheLastDays_AndTheNewestOfEachOfTheLastWeeks()
    {
        var backups = Enumerable.Range(0, 60).Select(d => Newest.AddDays(-d)).Append(Newest.AddHours(-1)).ToList();

        var expired = BackupRetention.SelectExpired(backups, b => b, keepDaily: 7, keepWeekly: 4);
        var kept = backups.Except(expired).OrderByDescending(b => b).ToList();

        var expectedDaily = Enumerable.Range(0, 7).Select(d => Newest.AddDays(-d));
        // ISO weeks start on Monday: the newest backup of a week is its Sunday's, except in the current week.
        var expectedWeekly = new[] { Newest, Newest.AddDays(-1), Newest.AddDays(-8), Newest.AddDays(-15) };
        Assert.That(kept, Is.EquivalentTo(expectedDaily.Union(expectedWeekly)));
        Assert.That(expired, Does.Contain(Newest.AddHours(-1)), "an older backup of the same day goes");
    }

    [Test]
    public void DaysWithoutBackups_DoNotCount()
    {
        // Backups stopped a month ago: the last ones are still the newest days that have any, so they stay.
        var backups = Enumerable.Range(30, 10).Select(d => Newest.AddDays(-d)).ToList();

        var expired = BackupRetention.SelectExpired(backups, b => b, keepDaily: 3, keepWeekly: 0);

        Assert.That(backups.Except(expired), Is.EquivalentTo(backups.Take(3)));
    }
}

using MeatLizard.Infrastructure.Backup;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Backup;

[TestFixture]
public sealed class CronScheduleTests
{
    private static readonly DateTimeOffset Friday = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    [TestCase("30 3 * * *", "2025-03-15T03:30:00Z")]
    [TestCase("*/15 * * * *", "2025-03-14T15:15:00Z")]
    [TestCase("0 */6 * * *", "2025-03-14T18:00:00Z")]
    [TestCase("0 2 * * 0", "2025-03-16T02:00:00Z")]
    [TestCase("0 2 * * 7", "2025-03-16T02:00:00Z")]
    [TestCase("0 0 1 * *", "2025-04-01T00:00:00Z")]
    [TestCase("5,10 9-10 * * 1-5", "2025-03-17T09:05:00Z")]
    [TestCase("0 0 29 2 *", "2028-02-29T00:00:00Z")]
    [TestCase("9 15 * * *", "2025-03-15T15:09:00Z")]
    public void Next_IsTheFirstMatchingMinuteAfterTheGivenTime(string expression, string expected)
    {
        Assert.That(CronSchedule.Parse(expression).Next(Friday), Is.EqualTo(DateTimeOffset.Parse(expected,
            System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Next_OnAMatchingMinute_IsTheFollowingMatch()
    {
        var schedule = CronSchedule.Parse("0 * * * *");

        Assert.That(schedule.Next(new DateTimeOffset(2025, 3, 14, 15, 0, 0, TimeSpan.Zero)),
            Is.EqualTo(new DateTimeOffset(2025, 3, 14, 16, 0, 0, TimeSpan.Zero)));
    }

    [TestCase("")]
    [TestCase("* * * *")]
    [TestCase("60 * * * *")]
    [TestCase("* 24 * * *")]
    [TestCase("*/0 * * * *")]
    [TestCase("5-1 * * * *")]
    [TestCase("daily")]
    public void Parse_WhenTheExpressionIsBad_SaysWhy(string expression)
    {
        var ex = Assert.Throws<FormatException>(() => CronSchedule.Parse(expression));

        Assert.That(ex!.Message, Is.Not.Empty);
    }
}

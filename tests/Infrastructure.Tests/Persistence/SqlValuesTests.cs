using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Persistence;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>Enums are stored as their lower-case names, the spelling the stored rows and the API already use.</summary>
[TestFixture]
public sealed class SqlValuesTests
{
    private enum Aliased
    {
        First = 1,
        SameAsFirst = 1,
        Second = 2,
    }

    [Test]
    public void AnEnumIsWrittenAsItsLowerCaseName_AndTheSameStringEveryTime()
    {
        Assert.That(Enum.GetValues<RelayRequestStatus>().Select(SqlValues.Lower), Is.EqualTo(new[]
        {
            "pending", "dispatched", "streaming", "completed", "timedout", "fallback", "failed", "cancelled",
        }));
        Assert.That(SqlValues.Lower(MessageRole.Assistant), Is.EqualTo("assistant"));
        Assert.That(SqlValues.Lower(MessageRole.Assistant), Is.SameAs(SqlValues.Lower(MessageRole.Assistant)));
    }

    [Test]
    public void AValueWithoutANameOrWithTwo_IsWrittenAsItsOwnToStringWouldSay()
    {
        Assert.That(SqlValues.Lower((RelayRequestStatus)42), Is.EqualTo("42"));
        Assert.That(SqlValues.Lower(Aliased.SameAsFirst), Is.EqualTo(Aliased.SameAsFirst.ToString().ToLowerInvariant()));
        Assert.That(SqlValues.Lower(Aliased.Second), Is.EqualTo("second"));
        Assert.That(SqlValues.Lower((MessageRole?)null), Is.Null);
    }
}

using MeatLizard.Infrastructure.Persistence.Sql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// Which properties of a parameter object a statement names: only those are bound, on SQLite and PostgreSQL alike.
/// </summary>
[TestFixture]
public sealed class ParameterReadersTests
{
    [Test]
    public void OnlyTheNamesTheSqlWrites_AreMentioned_WhateverTheirPrefix_AndNoNameThatMerelyBeginsOne()
    {
        var parameters = new { Id = 1, Ids = 2, Chat = "c", At = DateTimeOffset.UnixEpoch, Unused = 3 };
        const string sql = "SELECT 1 FROM t WHERE id = @Ids AND chat = :Chat AND at < $At";

        var mentioned = ParameterReaders.MentionedIn(sql, parameters.GetType()).Select(reader => reader.Name);

        Assert.That(mentioned, Is.EquivalentTo(new[] { "Ids", "Chat", "At" }));
    }

    [Test]
    public void AskedAgain_TheSameSqlAndType_GiveTheSameReaders_AndEachReadsItsOwnProperty()
    {
        var parameters = new { From = 5L, Max = 10 };
        const string sql = "SELECT n FROM numbers WHERE n > @From LIMIT @Max";

        var first = ParameterReaders.MentionedIn(sql, parameters.GetType());
        var again = ParameterReaders.MentionedIn(sql, parameters.GetType());

        Assert.That(again, Is.SameAs(first));
        Assert.That(first.Select(reader => reader.Read(parameters)), Is.EquivalentTo(new object[] { 5L, 10 }));
    }
}

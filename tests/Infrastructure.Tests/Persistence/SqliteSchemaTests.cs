using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// What SQLite's schema checks beyond the shared contract. PostgreSQL leaves a message's chat to its writers (migration
/// 0007; see PostgresSchemaTests); SQLite's foreign key costs it nothing worth saving, so it keeps it.
/// </summary>
[TestFixture]
public sealed class SqliteSchemaTests
{
    [Test]
    public async Task Message_ForUnknownSession_IsRejected()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();
        await using var scope = db.Scope();
        var orphan = Message.Answer(ChatId.New(), RelayRequestId.New(), "nobody's", MessageSource.Notice, null, At(1));

        var ex = Assert.CatchAsync(
            () => scope.ServiceProvider.GetRequiredService<IMessageRepository>().AddAsync(orphan, CancellationToken.None));

        Assert.That(db.IsConstraintViolation(ex!), Is.True, "foreign keys are enforced: " + ex!.Message);
    }
}

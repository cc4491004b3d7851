using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

// The shared contract suites, run against a real SQLite file each.

[TestFixture]
public sealed class SqliteRepositoryTests : RepositoryContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteChatReadModelTests : ChatReadModelContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteRelayQueueTests : RelayQueueContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteUnitOfWorkTests : UnitOfWorkContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteConcurrencyTests : ConcurrencyContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteRelayCursorStoreTests : RelayCursorStoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteChannelStoresTests : ChannelStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteTelegramUpdateInboxTests : TelegramUpdateInboxContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteRelayChatChannelsTests : RelayChatChannelsContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteDutyLeasesTests : DutyLeasesContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteSearchTests : SearchContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class SqliteShareLinkStoreTests : ShareLinkStoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

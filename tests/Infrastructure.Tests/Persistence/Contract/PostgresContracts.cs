using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

// The shared contract suites, run against a real PostgreSQL database each (MEATLIZARD_TEST_POSTGRES) each.

[TestFixture]
public sealed class PostgresRepositoryTests : RepositoryContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresChatReadModelTests : ChatReadModelContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresRelayQueueTests : RelayQueueContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresUnitOfWorkTests : UnitOfWorkContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresConcurrencyTests : ConcurrencyContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresRelayCursorStoreTests : RelayCursorStoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresChannelStoresTests : ChannelStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresTelegramUpdateInboxTests : TelegramUpdateInboxContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresRelayChatChannelsTests : RelayChatChannelsContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresDutyLeasesTests : DutyLeasesContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresSearchTests : SearchContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresShareLinkStoreTests : ShareLinkStoreContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

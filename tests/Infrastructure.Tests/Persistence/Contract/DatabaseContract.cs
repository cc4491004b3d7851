using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// A contract every database provider must keep: each test gets a fresh, migrated database of the provider under test
/// (<see cref="CreateDatabaseAsync"/>, given by the provider's subclass in SqliteContracts.cs and PostgresContracts.cs).
/// </summary>
public abstract class DatabaseContract
{
    protected static readonly CancellationToken None = CancellationToken.None;

    protected ITestDatabase Db { get; private set; } = null!;

    /// <summary>A fresh, migrated database of the provider under test.</summary>
    protected abstract Task<ITestDatabase> CreateDatabaseAsync();

    [SetUp]
    public async Task CreateDatabase() => Db = await CreateDatabaseAsync();

    [TearDown]
    public async Task DisposeDatabase() => await Db.DisposeAsync();
}

/// <summary>A <see cref="DatabaseContract"/> whose tests share one DI scope of the database's host (<see cref="Services"/>).</summary>
public abstract class ScopedDatabaseContract : DatabaseContract
{
    private AsyncServiceScope _scope;

    protected IServiceProvider Services { get; private set; } = null!;

    // NUnit runs a base class's set-up before its subclass's, and tear-downs the other way round.
    [SetUp]
    public void OpenScope()
    {
        _scope = Db.Scope();
        Services = _scope.ServiceProvider;
    }

    [TearDown]
    public async Task CloseScope() => await _scope.DisposeAsync();
}

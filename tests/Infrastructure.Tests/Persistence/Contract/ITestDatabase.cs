using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// A real, empty database of one provider, wired the way a host wires it, that the contract suites run against;
/// dropped on dispose.
/// </summary>
public interface ITestDatabase : IAsyncDisposable
{
    /// <summary>The host the test talks to (the first one started).</summary>
    ServiceProvider Services { get; }

    /// <summary>Another host (its own DI container and pool, like a second process or a restart) on the same database.</summary>
    ServiceProvider StartHost(TimeProvider? clock = null);

    AsyncServiceScope Scope();

    /// <summary>Runs one query on a fresh connection, outside the code under test.</summary>
    Task<T> ScalarAsync<T>(string sql);

    /// <summary>An SQL literal for an instant, in the provider's storage type.</summary>
    string InstantLiteral(DateTimeOffset instant);

    /// <summary>True when the exception is the provider's unique- or foreign-key violation.</summary>
    bool IsConstraintViolation(Exception exception);
}

using NUnit.Framework;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// The lifecycle every cross-process fixture shares: one <see cref="Support.Cluster"/> started before its tests (with the
/// options <see cref="StartingAsync"/> gives, after starting whatever servers of its own it needs), its processes'
/// output shown when a test fails, and everything stopped after the last test: the cluster, then what the fixture
/// <see cref="Own{T}"/>ed, newest first.
/// </summary>
public abstract class ClusterFixture
{
    private readonly List<object> _owned = [];

    protected Cluster Cluster { get; private set; } = null!;

    /// <summary>The cluster's options; servers of the fixture's own (its PostgreSQL, Redis, an upstream) start here.</summary>
    protected virtual Task<ClusterOptions> StartingAsync() => Task.FromResult(new ClusterOptions());

    /// <summary>What the fixture does once the cluster is up, before its first test.</summary>
    protected virtual Task StartedAsync() => Task.CompletedTask;

    /// <summary>Stops <paramref name="resource"/> (disposable, or async disposable) after the cluster.</summary>
    protected T Own<T>(T resource) where T : notnull
    {
        _owned.Add(resource);
        return resource;
    }

    [OneTimeSetUp]
    public async Task StartClusterAsync()
    {
        Cluster = await Support.Cluster.StartAsync(await StartingAsync());
        await StartedAsync();
    }

    [OneTimeTearDown]
    public async Task StopClusterAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            switch (_owned[i])
            {
                case IAsyncDisposable resource:
                    await resource.DisposeAsync();
                    break;
                case IDisposable resource:
                    resource.Dispose();
                    break;
            }
        }
    }

    [TearDown]
    public async Task ShowHostOutputOnFailureAsync()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed
            && Cluster is not null)
        {
            await TestContext.Out.WriteLineAsync(Cluster.Diagnostics);
        }
    }
}

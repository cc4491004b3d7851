namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// One API host for a whole fixture, on the storage the fixture runs on (SQLite, or PostgreSQL and Redis): started
/// before its first test, stopped after its last. A fixture says only what differs: its settings, whether a worker
/// runs, and what to do once the host is up.
/// </summary>
public abstract class ApiHostFixture(string storage)
{
    /// <summary>The fixture's host, up from before its first test.</summary>
    protected ApiHost Host { get; private set; } = null!;

    /// <summary>The storage the fixture runs on, for any further host a test starts.</summary>
    protected string Storage => storage;

    /// <summary>Configuration over the test defaults; none unless the fixture says.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    /// <summary>False: no worker runs, the fallback answers.</summary>
    protected virtual bool WithEngine => true;

    [OneTimeSetUp]
    public async Task StartHostAsync()
    {
        Host = await new ApiHost(Settings, WithEngine, storage).StartAsync();
        await OnStartedAsync();
    }

    /// <summary>What the fixture does once its host is up (before its first test).</summary>
    protected virtual Task OnStartedAsync() => Task.CompletedTask;

    [OneTimeTearDown]
    public async Task StopHostAsync() => await Host.DisposeAsync();
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;

namespace MeatLizard.Web.Tests.Support;

/// <summary>
/// Where a browser fixture's API runs: in the test process on one of <see cref="StorageProvider"/>'s storages, or
/// <see cref="Distributed"/>. A fixture takes the name as its parameter
/// (<c>[TestFixtureSource(typeof(ApiModes), nameof(ApiModes.Names))]</c>).
/// </summary>
public static class ApiModes
{
    /// <summary>
    /// Distributed mode as an operator runs it (<see cref="Cluster"/>): API instances as processes of their own
    /// (Relay:Dispatcher=External) on PostgreSQL + Redis, the server bot dispatching, and the client bot in the test
    /// process relaying over the loopback Discord with the scripted engine the tests set.
    /// </summary>
    public const string Distributed = "Distributed";

    public static string[] Names { get; } = [.. StorageProvider.Names, Distributed];

    /// <summary>
    /// Starts a cluster whose client bot answers with <paramref name="engine"/> and whose processes get
    /// <paramref name="settings"/> (configuration keys, as the in-process host takes them). Its API instances serve the
    /// web app from the folder the in-process host serves it from: they run in a temporary content root.
    /// </summary>
    public static async Task<Cluster> StartClusterAsync(ScriptedEngine engine, IDictionary<string, string?> settings)
    {
        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            InProcessEngine = engine,
            SharedSettings = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value ?? ""),
            ApiSettings = _ => new Dictionary<string, string> { ["ASPNETCORE_WEBROOT"] = Paths.WebRoot },
        });

        // A process's first requests are compiled as they come (a first sign-up took 4.4 s on a busy 2-core machine,
        // past the page's 5 s wait): one message the whole way through, from sign-up to answer, before any browser test.
        try
        {
            using var warmUp = await ApiUser.SignUpAsync(cluster.Apis);
            var (status, _) = await warmUp.SendAsync(0, await warmUp.CreateSessionAsync(), "warm up", wait: true);
            Assert.That(status, Is.EqualTo(System.Net.HttpStatusCode.OK), cluster.Diagnostics);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;

namespace MeatLizard.Web.Tests.Support;

/// <summary>
/// Where a browser fixture's API runs: in the test process on one of <see cref="StorageProvider"/>'s storages, or
/// <see cref="Distributed"/>, or in the test process with the direct relay on one of the storages
/// (<see cref="DirectRelay"/>). A fixture takes the name as its parameter
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

    private const string DirectRelayPrefix = "DirectRelay-";

    public static string[] Names { get; } = [.. StorageProvider.Names, Distributed, .. StorageProvider.Names.Select(DirectRelay)];

    /// <summary>
    /// The direct relay's set-up (issue 39) on <paramref name="storage"/>: the API in the test process with
    /// Relay:Transport=Direct and no model host of its own, and a client bot composed as its host is
    /// (<see cref="DirectClientBot"/>) that dials the API's relay endpoint with a host token and answers with the
    /// scripted engine the tests set.
    /// </summary>
    public static string DirectRelay(string storage) => DirectRelayPrefix + storage;

    /// <summary>The storage of a <see cref="DirectRelay"/> mode; null for any other mode.</summary>
    public static string? DirectRelayStorage(string mode) =>
        mode.StartsWith(DirectRelayPrefix, StringComparison.Ordinal) ? mode[DirectRelayPrefix.Length..] : null;

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

    /// <summary>
    /// Starts the API of a <see cref="DirectRelay"/> mode on <paramref name="storage"/> with <paramref name="settings"/>,
    /// makes a host token as the API's <c>hosts add</c> verb does, and starts the client bot that dials in with it and
    /// answers with <paramref name="engine"/>. Returns once the API hears the host: nothing else answers there.
    /// </summary>
    public static async Task<(ApiHost Api, DirectClientBot Bot)> StartDirectRelayAsync(string storage,
        IDictionary<string, string?> settings, bool firstAdmin, ScriptedEngine engine)
    {
        var key = DirectClientBot.NewKey();
        var apiSettings = DirectClientBot.ApiSettings(key);
        foreach (var (name, value) in settings)
        {
            apiSettings[name] = value;
        }

        var api = await new ApiHost(apiSettings, withEngine: false, storage, firstAdmin: firstAdmin).StartAsync();
        DirectClientBot? bot = null;
        try
        {
            bot = await DirectClientBot.StartAsync(api, key, await DirectClientBot.AddHostAsync(api, "studio-mac"), engine);
            await api.WaitForHostsAsync(hosts => hosts.Count == 1, "the client bot dialled in over the direct relay");
            return (api, bot);
        }
        catch
        {
            if (bot is not null)
            {
                await bot.DisposeAsync();
            }

            await api.DisposeAsync();
            throw;
        }
    }
}

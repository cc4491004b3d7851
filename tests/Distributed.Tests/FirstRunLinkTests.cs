using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Issue 37's first-run admin link, as `./run.sh` shows it: the API host, started as a process on a new platform (each
/// database), prints the one-time setup link on its console once it listens; the account registered through that link
/// is the first admin, and the link works once. With <c>Logging:Format=Json</c> (a console that is a shipped log
/// stream) it prints no link, only a warning saying to run <c>admin setup-link</c>. (The browser tests open a link made
/// by the same command in the test process: a host in the test process never reaches the start-up code that prints.)
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed partial class FirstRunLinkTests(string storage)
{
    private static readonly TimeSpan ProcessStart = TimeSpan.FromSeconds(60);
    private const string Password = "correct horse battery";

    private string _work = null!;
    private StorageProvider _database = null!;
    private Dictionary<string, string> _settings = null!;

    [SetUp]
    public async Task SetUp()
    {
        _work = Directory.CreateTempSubdirectory("meatlizard-first-run-").FullName;
        _database = await StorageProvider.CreateAsync(storage);
        _settings = new Dictionary<string, string> { ["Urls"] = "http://127.0.0.1:0", ["Data__Root"] = _work };
        foreach (var (key, value) in _database.Settings)
        {
            _settings[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }
    }

    [TearDown]
    public async Task TearDown()
    {
        await _database.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Test]
    public async Task ANewPlatform_PrintsTheSetupLinkAtStart_WhichRegistersTheFirstAdmin_Once()
    {
        await using var api = HostProcess.Start("API", "MeatLizard.Presentation.Api", _work, _settings);
        var address = await api.ListeningAsync(ProcessStart);
        Assert.That(await api.PrintsAsync("No admin yet. To make the first admin, open this link by ", TimeSpan.FromSeconds(20)), Is.True,
            api.Output);
        var link = SetupLink().Match(api.Output);
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        var token = Uri.UnescapeDataString(link.Groups["token"].Value);

        var first = await http.PostAsJsonAsync("api/v1/auth/register", new { username = "root", password = Password, setupToken = token });
        var again = await http.PostAsJsonAsync("api/v1/auth/register", new { username = "root2", password = Password, setupToken = token });

        Assert.Multiple(async () =>
        {
            Assert.That(link.Success, Is.True, api.Output);
            Assert.That(link.Groups["at"].Value, Is.EqualTo(address.ToString().TrimEnd('/')), "on the address the host listens on");
            Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Created), await first.Content.ReadAsStringAsync());
            Assert.That((await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString(), Is.EqualTo("admin"));
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "the link works once");
            Assert.That(api.Printed(token), Is.True, "printed on the console");
        });
    }

    [Test]
    public async Task WithJsonLogs_NoLinkIsPrinted_OnlyAWarningSayingHowToMakeOne()
    {
        _settings["Logging__Format"] = "Json";
        await using var api = HostProcess.Start("API", "MeatLizard.Presentation.Api", _work, _settings);

        // The JSON writer escapes the backticks around the verb.
        var warned = await api.PrintsAsync("No admin yet: run ", ProcessStart) && await api.PrintsAsync("admin setup-link", TimeSpan.Zero);

        Assert.That(warned, Is.True, api.Output);
        Assert.That(api.Output, Does.Not.Contain("setup?token="), "a log stream is kept and shipped: no secret in it");
    }

    [GeneratedRegex(@"(?<at>http://\S+)/setup\?token=(?<token>\S+)")]
    private static partial Regex SetupLink();
}

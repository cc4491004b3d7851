using MeatLizard.Api.Tests.Support;
using MeatLizard.Distributed.Tests.Support;
using Microsoft.Playwright;

namespace MeatLizard.Web.Tests.Support;

/// <summary>
/// One real API (loopback Kestrel, scripted engine) and one Chromium per fixture; a fresh context per page. The API
/// runs in the test process (<see cref="Host"/>) — with the direct relay (<see cref="ApiModes.DirectRelay"/>), beside a
/// client bot that dials it and runs the scripted engine — or, for <see cref="ApiModes.Distributed"/>, as a cluster of
/// processes whose client bot runs the scripted engine; tests that hold in each reach it through
/// <see cref="BaseAddress"/> and <see cref="Engine"/>.
/// </summary>
public abstract class BrowserFixture
{
    private IPlaywright _playwright = null!;
    private readonly List<IBrowserContext> _contexts = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _pageErrors = new();

    /// <summary>What the pages saw go wrong (refused calls, console errors), printed when a test fails.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _pageTrouble = new();

    /// <summary>The pages' requests not answered yet, with when each was made: those still open are printed when a test fails.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IRequest, DateTime> _openRequests = new();
    private ApiHost? _host;
    private Cluster? _cluster;
    private DirectClientBot? _directClientBot;

    /// <summary>The API in the test process; a distributed fixture has none (its API instances are processes).</summary>
    protected ApiHost Host => _host ?? throw new InvalidOperationException(
        $"The {Storage} fixture's API runs in processes of its own: use {nameof(BaseAddress)} and {nameof(Engine)}.");

    /// <summary>Where the browser finds the API and the web app (in distributed mode, the cluster's first instance).</summary>
    protected Uri BaseAddress { get; private set; } = null!;

    /// <summary>The engine that answers: the in-process host's worker, or the cluster's client bot.</summary>
    protected ScriptedEngine Engine { get; private set; } = null!;

    protected IBrowser Browser { get; private set; } = null!;

    /// <summary>Settings for this fixture's API host (e.g. tight rate limits).</summary>
    protected virtual IDictionary<string, string?> HostSettings => new Dictionary<string, string?>();

    /// <summary>False: no worker runs, so the fallback answers everything.</summary>
    protected virtual bool WithEngine => true;

    /// <summary>False: the platform starts with no account at all, as a new install (the first admin is the test's).</summary>
    protected virtual bool FirstAdmin => true;

    /// <summary>
    /// Where the API keeps its data: embedded SQLite, or PostgreSQL + Redis (<see cref="StorageProvider"/>), or a
    /// distributed cluster on PostgreSQL + Redis (<see cref="ApiModes.Distributed"/>), or either storage with the direct
    /// relay (<see cref="ApiModes.DirectRelay"/>).
    /// </summary>
    protected virtual string Storage => StorageProvider.Sqlite;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        (_playwright, Browser) = await Support.Browser.LaunchAsync();
        if (Storage == ApiModes.Distributed)
        {
            Assert.That(WithEngine, Is.True, "a cluster always has its client bot");
            Engine = new ScriptedEngine();
            _cluster = await ApiModes.StartClusterAsync(Engine, HostSettings);
            BaseAddress = _cluster.Apis[0];
            return;
        }

        if (ApiModes.DirectRelayStorage(Storage) is { } storage)
        {
            Assert.That(WithEngine, Is.True, "the direct relay's host is its client bot");
            Engine = new ScriptedEngine();
            (_host, _directClientBot) = await ApiModes.StartDirectRelayAsync(storage, HostSettings, FirstAdmin, Engine);
            BaseAddress = _host.BaseAddress;
            return;
        }

        _host = await new ApiHost(HostSettings, WithEngine, Storage, firstAdmin: FirstAdmin).StartAsync();
        BaseAddress = _host.BaseAddress;
        Engine = _host.Engine;
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (_directClientBot is not null)
        {
            await _directClientBot.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [SetUp]
    public void ResetEngine()
    {
        Engine.DelayBetweenWords = TimeSpan.Zero;
        Engine.FailWith = null;
        Engine.Hang = false;
        Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
    }

    /// <summary>Every page of every test must run without a script error or a Content-Security-Policy violation.</summary>
    [TearDown]
    public async Task CloseContextsAsync()
    {
        var failed = TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed;
        if (failed)
        {
            await TestContext.Out.WriteLineAsync(string.Join('\n', ["What the pages saw go wrong:", .. _pageTrouble]));
            await TestContext.Out.WriteLineAsync(await WhereThePagesAreAsync());
        }

        _pageTrouble.Clear();
        _openRequests.Clear();
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }

        _contexts.Clear();
        if (_cluster is not null && failed)
        {
            await TestContext.Out.WriteLineAsync(_cluster.Diagnostics); // what the cluster's processes printed
        }

        var errors = _pageErrors.ToList();
        _pageErrors.Clear();
        Assert.That(errors, Is.Empty, "script errors or CSP violations on the page");
    }

    protected async Task<ChatPage> NewPageAsync(ColorScheme scheme = ColorScheme.Light, bool phone = false)
    {
        var options = new BrowserNewContextOptions
        {
            ColorScheme = scheme,
            ViewportSize = phone ? new ViewportSize { Width = 390, Height = 844 } : new ViewportSize { Width = 1280, Height = 800 },
            IsMobile = phone,
            HasTouch = phone,
            DeviceScaleFactor = phone ? 2 : 1,
            AcceptDownloads = true,
            Permissions = ["clipboard-read", "clipboard-write"],
        };
        var context = await Browser.NewContextAsync(options);
        _contexts.Add(context);
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => _pageErrors.Enqueue(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                _pageErrors.Enqueue(message.Text);
            }

            if (message.Type == "error")
            {
                _pageTrouble.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} console: {message.Text}");
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                _pageTrouble.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {response.Status} {response.Request.Method} {response.Url}");
            }
        };
        page.RequestFailed += (_, request) =>
        {
            _openRequests.TryRemove(request, out var _);
            _pageTrouble.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} failed {request.Method} {request.Url}: {request.Failure}");
        };
        page.Request += (_, request) => _openRequests[request] = DateTime.UtcNow;
        page.RequestFinished += (_, request) => _openRequests.TryRemove(request, out var _);
        return new ChatPage(page, BaseAddress);
    }

    /// <summary>
    /// For a failed test: the requests still waiting for their answer (a read that never came back leaves a list empty
    /// without an error) and, for each page, its open dialogs' text as shown (which section, which rows).
    /// </summary>
    private async Task<string> WhereThePagesAreAsync()
    {
        var lines = new List<string> { "Requests still waiting for their answer:" };
        lines.AddRange(_openRequests.OrderBy(r => r.Value).Select(r => $" {r.Value:HH:mm:ss.fff} {r.Key.Method} {r.Key.Url}"));
        var pages = _contexts.SelectMany(c => c.Pages).ToList();
        for (var i = 0; i < pages.Count; i++)
        {
            try
            {
                var dialogs = await pages[i].EvaluateAsync<string[]>(
                    "() => [...document.querySelectorAll('dialog[open]')].map(d => `#${d.id}: ${d.innerText.slice(0, 3000)}`)");
                lines.Add($"Page {i + 1} ({pages[i].Url}), its open dialogs:");
                lines.AddRange(dialogs.Select(d => " " + d.ReplaceLineEndings(" | ")));
            }
            catch (PlaywrightException ex)
            {
                lines.Add($"Page {i + 1}: not readable ({ex.Message.Split('\n')[0]})");
            }
        }

        return string.Join('\n', lines);
    }
}

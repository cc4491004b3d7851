using MeatLizard.Api.Tests.Support;
using Microsoft.Playwright;

namespace MeatLizard.Web.Tests.Support;

/// <summary>One real API (loopback Kestrel, scripted engine) and one Chromium per fixture; a fresh context per page.</summary>
public abstract class BrowserFixture
{
    private IPlaywright _playwright = null!;
    private readonly List<IBrowserContext> _contexts = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _pageErrors = new();

    protected ApiHost Host { get; private set; } = null!;

    protected IBrowser Browser { get; private set; } = null!;

    /// <summary>Settings for this fixture's API host (e.g. tight rate limits).</summary>
    protected virtual IDictionary<string, string?> HostSettings => new Dictionary<string, string?>();

    /// <summary>False: no worker runs, so the fallback answers everything.</summary>
    protected virtual bool WithEngine => true;

    /// <summary>Where the API keeps its data: embedded SQLite, or PostgreSQL + Redis (<see cref="StorageProvider"/>).</summary>
    protected virtual string Storage => StorageProvider.Sqlite;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        (_playwright, Browser) = await Support.Browser.LaunchAsync();
        Host = await new ApiHost(HostSettings, WithEngine, Storage).StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }

    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.DelayBetweenTokens = TimeSpan.Zero;
        Host.Engine.FailWith = null;
        Host.Engine.Hang = false;
        Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
    }

    /// <summary>Every page of every test must run without a script error or a Content-Security-Policy violation.</summary>
    [TearDown]
    public async Task CloseContextsAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }

        _contexts.Clear();
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
        };
        return new ChatPage(page, Host.BaseAddress);
    }
}

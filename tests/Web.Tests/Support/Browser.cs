using Microsoft.Playwright;

namespace MeatLizard.Web.Tests.Support;

/// <summary>
/// Debian's Chromium (MEATLIZARD_CHROMIUM, set by scripts/test-services/web.sh) driven by Playwright's bundled driver,
/// headless and network-quiet: the only thing it talks to is the API on loopback.
/// </summary>
public static class Browser
{
    public static readonly string[] QuietArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("MEATLIZARD_CHROMIUM");
        if (string.IsNullOrWhiteSpace(chromium))
        {
            Assert.Fail("MEATLIZARD_CHROMIUM is not set: run ./test.sh, which installs chromium (scripts/test-services/web.sh).");
        }

        if (!File.Exists(Path.Combine(Paths.WebRoot, "index.html")))
        {
            Assert.Fail($"{Paths.WebRoot}/index.html is missing: run ./test.sh (scripts/test-services/web.sh builds the web app).");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = QuietArgs,
        });
        return (playwright, browser);
    }
}

public static class Paths
{
    public static string SolutionRoot { get; } = FindSolutionRoot();

    public static string WebRoot => Path.Combine(SolutionRoot, "src", "Presentation.Api", "wwwroot");

    /// <summary>Screenshots land in artifacts/screenshots (gitignored) and are attached to the test results.</summary>
    public static string Screenshots => Path.Combine(SolutionRoot, "artifacts", "screenshots");

    private static string FindSolutionRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MeatLizard.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("MeatLizard.sln not found above the test binaries.");
    }
}

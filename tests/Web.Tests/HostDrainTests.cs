using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Draining a model host from the console (issue 37), in Chromium on both databases: the Model hosts section drains the
/// host, shows it drained once its heartbeat says so, and undrains it.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class HostDrainTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task TheModelHostsSection_DrainsAHost_ShowsItDrained_AndUndrainsIt()
    {
        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        await admin.OpenConsoleAsync();
        var section = admin.Page.GetByRole(AriaRole.Button, new() { Name = "Model hosts", Exact = true });
        await section.ClickAsync();
        var hosts = admin.Page.Locator("#hosts-list");
        await Expect(hosts.GetByRole(AriaRole.Button, new() { NameRegex = new("^Drain ") })).ToBeVisibleAsync();

        await hosts.GetByRole(AriaRole.Button, new() { NameRegex = new("^Drain ") }).ClickAsync();
        await ShownAsync(section, hosts, "drained by an admin");
        await hosts.GetByRole(AriaRole.Button, new() { NameRegex = new("^Undrain ") }).ClickAsync();
        await ShownAsync(section, hosts, ", ready");
    }

    /// <summary>The section read again until the host's next heartbeats say <paramref name="text"/>.</summary>
    private static async Task ShownAsync(ILocator section, ILocator hosts, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!(await hosts.TextContentAsync() ?? "").Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(300);
            await section.ClickAsync();
        }

        await Expect(hosts).ToContainTextAsync(text);
    }
}

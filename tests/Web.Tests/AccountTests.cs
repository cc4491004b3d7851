using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The account dialog: a password changed there ends every other sign-in and keeps this one; "sign out everywhere"
/// ends them all, this browser's too. On SQLite and on PostgreSQL + Redis.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AccountTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    protected override bool WithEngine => false;

    [Test]
    public async Task ChangePassword_EndsTheOtherSignIns_AndSignOutEverywhere_EndsThemAll()
    {
        var mine = await NewPageAsync();
        var username = await mine.RegisterAsync();
        var other = await NewPageAsync();
        await other.OpenAsync();
        await other.SignInAsync(username);

        await mine.Page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        await mine.Page.GetByLabel("Current", new() { Exact = true }).FillAsync("not my password");
        await mine.Page.GetByLabel("New (8 characters or more)").FillAsync("a brand new password");
        await mine.Page.GetByRole(AriaRole.Button, new() { Name = "Change password" }).ClickAsync();
        await Expect(mine.Page.Locator("#password-error")).ToContainTextAsync("current password is wrong");
        await mine.Page.GetByLabel("Current", new() { Exact = true }).FillAsync(ChatPage.Password);
        await mine.Page.GetByRole(AriaRole.Button, new() { Name = "Change password" }).ClickAsync();
        await Expect(mine.Banner).ToContainTextAsync("Password changed");

        await other.Page.ReloadAsync();
        await Expect(other.Page.Locator("#auth")).ToBeVisibleAsync();
        await mine.Page.ReloadAsync();
        await Expect(mine.Page.Locator("#me-name")).ToHaveTextAsync(username, new() { Timeout = 15_000 });

        await other.OpenAsync();
        await other.SignInAsync(username, "a brand new password");
        await mine.Page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        var download = await mine.Page.RunAndWaitForDownloadAsync(() =>
            mine.Page.GetByRole(AriaRole.Link, new() { Name = "Download my data" }).ClickAsync());
        Assert.That(download.SuggestedFilename, Does.StartWith($"meatlizard-{username}-").And.EndWith(".json"));
        var exported = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(await download.PathAsync()));
        Assert.That(exported.RootElement.GetProperty("account").GetProperty("username").GetString(), Is.EqualTo(username));
        await mine.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out everywhere" }).ClickAsync();

        await Expect(mine.Page.Locator("#auth")).ToBeVisibleAsync();
        await mine.Page.ReloadAsync();
        await Expect(mine.Page.Locator("#auth")).ToBeVisibleAsync();
        await other.Page.ReloadAsync();
        await Expect(other.Page.Locator("#auth")).ToBeVisibleAsync();
    }
}

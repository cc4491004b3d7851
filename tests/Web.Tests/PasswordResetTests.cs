using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// A forgotten password, in Chromium (issue 37): the admin makes a reset link in the console's Users section; the user
/// opens it signed out, sets a new password and is signed in with it; the link then works no more. Both databases.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class PasswordResetTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    protected override bool WithEngine => false;

    [Test]
    public async Task AnAdminsResetLink_OpenedSignedOut_SetsANewPassword_SignsIn_AndWorksOnce()
    {
        var forgetful = await NewPageAsync();
        var username = await forgetful.RegisterAsync();

        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        await admin.OpenConsoleAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
        await admin.Page.GetByLabel("Search accounts").FillAsync(username);
        await Expect(admin.Page.Locator("#admin-users-list li")).ToHaveCountAsync(1);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Make a password reset link for {username}" }).ClickAsync();
        await Expect(admin.Page.Locator("#invite-created-note")).ToContainTextAsync($"give it to {username}");
        var link = await admin.Page.Locator("#invite-link").InputValueAsync();
        Assert.That(link, Does.Contain("?reset="));

        var opened = await NewPageAsync();
        await opened.Page.GotoAsync(link);
        await Expect(opened.Page.Locator("#auth-policy")).ToContainTextAsync("Choose a new password");
        await Expect(opened.Page.GetByLabel("Username")).ToBeHiddenAsync();
        await opened.Page.GetByLabel("Password").FillAsync("a brand new passphrase");
        await opened.Page.GetByRole(AriaRole.Button, new() { Name = "Set new password" }).ClickAsync();
        await Expect(opened.Page.Locator("#me-name")).ToHaveTextAsync(username, new() { Timeout = 15_000 });
        Assert.That(opened.Page.Url, Does.Not.Contain("reset="), "the spent code leaves the address bar");

        var again = await NewPageAsync();
        await again.Page.GotoAsync(link);
        await again.Page.GetByLabel("Password").FillAsync("yet another passphrase");
        await again.Page.GetByRole(AriaRole.Button, new() { Name = "Set new password" }).ClickAsync();
        await Expect(again.Page.Locator("#auth-error")).ToContainTextAsync("used already", new() { Timeout = 15_000 });
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// A new install from the browser: the setup link registers the first admin, who switches registration to Approval in
/// the admin console's Users section; a newcomer registers and is told to wait, cannot sign in, is approved, and signs in.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class FirstAdminTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    protected override bool WithEngine => false;

    protected override bool FirstAdmin => false;

    [Test]
    public async Task SetupLink_FirstAdmin_Approval_ANewcomerWaits_IsApproved_AndSignsIn()
    {
        var admin = await NewPageAsync();
        var token = (await Host.SetupTokenAsync())!;
        await admin.OpenAsync($"/setup?token={Uri.EscapeDataString(token)}");
        await Expect(admin.Page.Locator("#auth-policy")).ToContainTextAsync("first admin");
        await admin.Page.GetByLabel("Username").FillAsync("root");
        await admin.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Create admin account" }).ClickAsync();
        await Expect(admin.Page.Locator("#me-name")).ToHaveTextAsync("root", new() { Timeout = 15_000 });
        Assert.That(admin.Page.Url, Does.Not.Contain(token), "the spent token leaves the address bar");

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true }).ClickAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users" }).ClickAsync();
        await admin.Page.GetByLabel("Who may register").SelectOptionAsync("approval");
        await WaitForPolicyAsync("approval");

        var newcomer = await NewPageAsync();
        await newcomer.OpenAsync();
        await newcomer.Page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).First.ClickAsync();
        await Expect(newcomer.Page.Locator("#auth-policy")).ToContainTextAsync("approval");
        await newcomer.Page.GetByLabel("Username").FillAsync("bob");
        await newcomer.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await newcomer.Page.Locator("#auth-submit").ClickAsync();
        await Expect(newcomer.Page.Locator("#auth-policy")).ToContainTextAsync("waiting for an admin's approval",
            new() { Timeout = 15_000 });
        await newcomer.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await newcomer.Page.Locator("#auth-submit").ClickAsync();
        await Expect(newcomer.Page.Locator("#auth-error")).ToContainTextAsync("waiting for an admin's approval",
            new() { Timeout = 15_000 });

        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-pending")).ToContainTextAsync("bob");
        // Drawn in the same pass as the waiting list: bob is only there until he is approved.
        await Expect(admin.Page.Locator("#admin-users-list")).Not.ToContainTextAsync("bob");
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Approve bob" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-pending")).ToContainTextAsync("Nobody is waiting.");
        await Expect(admin.Page.Locator("#admin-users-list")).ToContainTextAsync("bob");

        await newcomer.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await newcomer.Page.Locator("#auth-submit").ClickAsync();
        await Expect(newcomer.Page.Locator("#me-name")).ToHaveTextAsync("bob", new() { Timeout = 15_000 });
        await Expect(newcomer.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true })).ToBeHiddenAsync();
    }

    private async Task WaitForPolicyAsync(string policy)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await http.GetFromJsonAsync<JsonElement>("api/v1/auth/registration")).GetProperty("policy").GetString() != policy)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"registration never became {policy}");
            await Task.Delay(100);
        }
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Issue 37's walk, in one test, in Chromium on both databases: the first-run admin link → registration switched to
/// Approval → a new user waits → is approved → chats → is banned and unbanned → the dashboard draws those messages → a
/// persona starts a chat with its system prompt → the user exports and deletes their account → nothing of theirs remains
/// (no row, and no stored transcript of the chat they closed).
/// (Each part is also tested on its own, in more detail, in FirstAdminTests, AdminConsoleTests and PersonaAndDeletionTests.)
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AdminJourneyTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    protected override bool FirstAdmin => false;

    private const string Walker = "walker";

    [Test]
    public async Task FirstRun_Approval_Ban_Dashboard_Persona_Export_Deletion_InOneWalk()
    {
        // The first-run link makes the admin, who switches registration to Approval.
        var admin = await NewPageAsync();
        await admin.OpenAsync($"/setup?token={Uri.EscapeDataString((await Host.SetupTokenAsync())!)}");
        await admin.SignInAsync("root", button: "Create admin account");
        await admin.OpenConsoleAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
        await admin.Page.GetByLabel("Who may register").SelectOptionAsync("approval");
        await Expect(admin.Page.GetByLabel("Who may register")).ToHaveValueAsync("approval");

        // A newcomer registers and waits; the admin approves; the newcomer signs in and asks something.
        var user = await NewPageAsync();
        await user.OpenAsync();
        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).First.ClickAsync();
        await Expect(user.Page.Locator("#auth-policy")).ToContainTextAsync("approval");
        await user.Page.GetByLabel("Username").FillAsync(Walker);
        await user.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await user.Page.Locator("#auth-submit").ClickAsync();
        await Expect(user.Page.Locator("#auth-policy")).ToContainTextAsync("waiting for an admin's approval", new() { Timeout = 15_000 });
        await Users(admin);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Approve {Walker}" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-pending")).ToContainTextAsync("Nobody is waiting.");
        await user.SignInAsync(Walker, button: "Sign in");
        await user.SendAsync("hello there");
        await user.WaitForAnswersAsync(1);
        await user.SendAsync("and again");
        await user.WaitForAnswersAsync(2);

        // Banned (its sign-ins end) and unbanned (it signs in again).
        await admin.Page.GetByLabel("Search accounts").FillAsync(Walker);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Ban {Walker}" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-users-list")).ToContainTextAsync("banned");
        await user.Page.ReloadAsync();
        await Expect(user.Page.Locator("#auth")).ToBeVisibleAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Unban {Walker}" }).ClickAsync();
        await Expect(admin.Page.Locator("#admin-users-list")).Not.ToContainTextAsync("banned");
        await user.SignInAsync(Walker, button: "Sign in");

        // The dashboard draws the messages answered.
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Dashboard", Exact = true }).ClickAsync();
        await AdminConsole.WaitForChartsAsync(admin.Page, requests: 2);
        await Expect(admin.Page.Locator("#dashboard-charts canvas")).ToHaveCountAsync(5);

        // A persona starts a chat: the model is asked with its system prompt.
        var page = user.Page;
        await page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        await page.GetByLabel("Persona name").FillAsync("Pirate");
        await page.GetByLabel("Persona system prompt").FillAsync("Talk like a pirate.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add persona" }).ClickAsync();
        await Expect(page.Locator("#persona-list")).ToContainTextAsync("Pirate");
        await page.Locator("#account-close").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await page.GetByLabel("Persona", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "Pirate" });
        await user.SendAsync("ahoy");
        await user.WaitForAnswersAsync(1);
        Assert.That(Engine.Requests[^1].SystemPrompt, Is.EqualTo("Talk like a pirate."), "the model was asked as the persona");

        // The first chat is closed: its transcript is stored (an object of theirs beside the rows).
        await page.GetByRole(AriaRole.Button, new() { Name = "Close chat hello there" }).ClickAsync();

        // The user exports everything, then deletes the account: nothing of theirs remains, rows nor objects.
        await page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        var download = await page.RunAndWaitForDownloadAsync(() =>
            page.GetByRole(AriaRole.Link, new() { Name = "Download my data" }).ClickAsync());
        var exported = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(await download.PathAsync())).RootElement;
        var userId = exported.GetProperty("account").GetProperty("id").GetGuid();
        var chats = exported.GetProperty("chats").EnumerateArray().Select(c => c.GetProperty("chat").GetProperty("id").GetGuid()).ToList();
        Assert.That(chats, Has.Count.EqualTo(2), "both chats exported");
        Assert.That(await StoredTranscriptsAsync(userId), Is.Not.Empty, "the closed chat's transcript is stored");
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GetByLabel("Confirm with your current secret").FillAsync(ChatPage.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete my account" }).ClickAsync();
        await Expect(page.Locator("#auth")).ToBeVisibleAsync();
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, chats), Is.Empty, "no row names the user or their chats");
        Assert.That(await UserRowsProbe.ObjectsAsync(Host, $"transcripts/{userId:D}/"), Is.Empty, "their stored transcripts are gone");
    }

    /// <summary>The user's stored transcripts, once there are any (a closed chat's is stored a moment after the close), or none after 15 s.</summary>
    private async Task<IReadOnlyList<string>> StoredTranscriptsAsync(Guid userId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var stored = await UserRowsProbe.ObjectsAsync(Host, $"transcripts/{userId:D}/");
            if (stored.Count > 0 || DateTime.UtcNow > deadline)
            {
                return stored;
            }

            await Task.Delay(200);
        }
    }

    private static async Task Users(ChatPage admin)
    {
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await admin.OpenConsoleAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
    }
}

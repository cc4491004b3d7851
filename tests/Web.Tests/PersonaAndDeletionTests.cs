using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Issue 37 in the browser: a persona made in the account dialog starts a chat with its system prompt; the user then
/// exports their data and deletes their account (typing their password), is signed out, and nothing of theirs remains
/// in the database. On SQLite and on PostgreSQL + Redis.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class PersonaAndDeletionTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task APersonaStartsAChat_ThenTheUserExportsAndDeletesTheirAccount_AndNothingOfTheirsRemains()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        var page = chat.Page;

        await page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        await page.GetByLabel("Persona name").FillAsync("Pirate");
        await page.GetByLabel("Persona system prompt").FillAsync("Talk like a pirate.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add persona" }).ClickAsync();
        await Expect(page.Locator("#persona-list")).ToContainTextAsync("Pirate");
        await page.Locator("#account-close").ClickAsync();

        await page.GetByLabel("Persona", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "Pirate" });
        await chat.SendAsync("ahoy");
        await chat.WaitForAnswersAsync(1);
        Assert.That(Engine.Requests[^1].SystemPrompt, Is.EqualTo("Talk like a pirate."), "the model was asked as the persona");

        await page.GetByRole(AriaRole.Button, new() { Name = "Account" }).ClickAsync();
        var download = await page.RunAndWaitForDownloadAsync(() =>
            page.GetByRole(AriaRole.Link, new() { Name = "Download my data" }).ClickAsync());
        var exported = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(await download.PathAsync())).RootElement;
        var userId = exported.GetProperty("account").GetProperty("id").GetGuid();
        var chats = exported.GetProperty("chats").EnumerateArray().Select(c => c.GetProperty("chat").GetProperty("id").GetGuid()).ToList();
        Assert.That(chats, Has.Count.EqualTo(1));
        Assert.That(exported.GetProperty("chats")[0].GetProperty("chat").GetProperty("systemPrompt").GetString(), Is.EqualTo("Talk like a pirate."));

        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GetByLabel("Confirm with your current secret").FillAsync("not my password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete my account" }).ClickAsync();
        await Expect(page.Locator("#delete-error")).ToContainTextAsync("password is wrong");
        await page.GetByLabel("Confirm with your current secret").FillAsync(ChatPage.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete my account" }).ClickAsync();

        await Expect(page.Locator("#auth")).ToBeVisibleAsync();
        await Expect(page.Locator("#auth-error")).ToContainTextAsync("deleted");
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, userId, chats), Is.Empty, "no row names the user or their chat");
        await page.ReloadAsync();
        await page.GetByLabel("Username").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await page.Locator("#auth-submit").ClickAsync();
        await Expect(page.Locator("#auth-error")).Not.ToBeEmptyAsync();
        await Expect(page.Locator("#app")).ToBeHiddenAsync();
    }

    [Test]
    public async Task AnAdmin_DeletesAUser_FromTheUsersList_AndNothingOfTheirsRemains()
    {
        var user = await NewPageAsync();
        var username = await user.RegisterAsync();
        await user.SendAsync("remember me");
        await user.WaitForAnswersAsync(1);
        var me = await user.Page.EvaluateAsync<string>("fetch('/api/v1/auth/me').then(r => r.json()).then(m => m.id)");
        var chats = await user.Page.EvaluateAsync<string[]>("fetch('/api/v1/sessions').then(r => r.json()).then(s => s.map(c => c.id))");

        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        admin.Page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Admin", Exact = true }).ClickAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Users", Exact = true }).ClickAsync();
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Delete {username} and all their data" }).ClickAsync();

        await Expect(admin.Page.GetByRole(AriaRole.Button, new() { Name = $"Delete {username} and all their data" })).ToHaveCountAsync(0);
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, Guid.Parse(me), [.. chats.Select(Guid.Parse)]), Is.Empty);
        await user.Page.ReloadAsync();
        await Expect(user.Page.Locator("#auth")).ToBeVisibleAsync();
    }
}

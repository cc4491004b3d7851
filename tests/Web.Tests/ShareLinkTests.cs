using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// A chat's owner makes a share link in the web app; signed out, the link shows the chat as it was, read-only, and
/// stops working once the owner revokes it; on both storages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ShareLinkTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task AShareLink_OpensSignedOut_WithoutAComposer_ShowsNothingLater_AndStopsWhenRevoked()
    {
        var owner = await NewPageAsync();
        await owner.RegisterAsync();
        await owner.SendAsync("What do geckos eat?");
        await owner.WaitForAnswersAsync(1);

        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Share" }).ClickAsync();
        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Create link" }).ClickAsync();
        var url = owner.Page.Locator("#share-url");
        await Expect(url).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("/s/[A-Za-z0-9_-]{43}$"));
        var link = await url.InputValueAsync();
        await Expect(owner.Page.Locator("#share-list li")).ToHaveCountAsync(1);
        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        await owner.SendAsync("And what do they drink?");
        await owner.WaitForAnswersAsync(2);

        var reader = await NewPageAsync(); // a context of its own: signed out
        await reader.Page.GotoAsync(link);
        var messages = reader.Page.Locator("#shared-messages article.msg");
        await Expect(messages).ToHaveCountAsync(2);
        await Expect(messages.First).ToContainTextAsync("What do geckos eat?");
        await Expect(messages.Last).ToContainTextAsync("You said: What do geckos eat?");
        await Expect(reader.Page.Locator("#shared-messages")).Not.ToContainTextAsync("drink");
        await Expect(reader.Page.Locator("#composer")).ToBeHiddenAsync();
        await Expect(reader.Page.Locator("#auth")).ToBeHiddenAsync();
        await Expect(reader.Page.Locator("#shared-title")).ToHaveTextAsync("What do geckos eat?");

        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Share" }).ClickAsync();
        await owner.Page.Locator("#share-list li button", new() { HasText = "Revoke" }).ClickAsync();
        await Expect(owner.Page.Locator("#share-list")).ToHaveTextAsync("None.");

        await reader.Page.ReloadAsync();
        await Expect(reader.Page.Locator("#shared-title")).ToHaveTextAsync("This link does not work");
        await Expect(reader.Page.Locator("#shared-messages article.msg")).ToHaveCountAsync(0);
    }
}

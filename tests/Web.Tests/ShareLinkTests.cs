using MeatLizard.Api.Tests.Support;
using MeatLizard.TestKit;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// A chat's owner makes a share link in the web app; signed out, the link shows the chat as it was, read-only, and
/// stops working once the owner revokes it, and shows its messages' images; on both storages.
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

        var link = await CreateLinkAsync(owner);
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

    [TearDown]
    public async Task NoImagesTaken() => await Host.TakeImagesAsync(false);

    [Test]
    public async Task AShareLink_ShowsAMessagesImages_SignedOut()
    {
        await Host.TakeImagesAsync(true);
        var owner = await NewPageAsync();
        await owner.RegisterAsync();
        await owner.Page.Locator("#attach-file").SetInputFilesAsync(new FilePayload
        {
            Name = "dot.png", MimeType = "image/png", Buffer = TestImages.Png,
        });
        await Expect(owner.Page.Locator("#attachments img")).ToHaveCountAsync(1);
        await owner.SendAsync("What is this dot?");
        await owner.WaitForAnswersAsync(1);
        var link = await CreateLinkAsync(owner);

        var reader = await NewPageAsync(); // a context of its own: signed out
        await reader.Page.GotoAsync(link);

        var shown = reader.Page.Locator("#shared-messages article.msg.user .images img");
        await Expect(shown).ToHaveCountAsync(1);
        await Expect(shown).ToHaveAttributeAsync("alt", "Image 1 of 1");
        await Expect(shown).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex(
            "^/api/v1/shared/[A-Za-z0-9_-]{43}/images/[0-9a-f]{32}\\.png$"));
        // Loaded: the share link's image endpoint served it with no sign-in.
        await Expect(shown).ToHaveJSPropertyAsync("naturalWidth", 1);
    }

    /// <summary>Makes a link in the chat's Share dialog (left open); its URL.</summary>
    private static async Task<string> CreateLinkAsync(ChatPage owner)
    {
        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Share" }).ClickAsync();
        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Create link" }).ClickAsync();
        var url = owner.Page.Locator("#share-url");
        await Expect(url).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("/s/[A-Za-z0-9_-]{43}$"));
        var link = await url.InputValueAsync();
        return link;
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The web app's link code: shown beside the API keys, it is the code a Discord or Telegram member sends as /link, after
/// which that member's chats belong to this web account. Redeemed here through the same channel commands the bots use.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class LinkCodeTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task TheCodeShownInTheWebApp_LinksADiscordMember_OnceConfirmed_Once_AndIsUnlinkedThere()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Get a link code" }).ClickAsync();
        await Expect(chat.Page.Locator("#link-code")).ToBeVisibleAsync();
        await Expect(chat.Page.Locator("#link-code-expiry")).ToContainTextAsync("valid until");
        var code = (await chat.Page.Locator("#link-code-value").TextContentAsync())!.Trim();
        Assert.That(code, Has.Length.GreaterThanOrEqualTo(8));

        var member = new ChannelMember("discord", "80351110224678912", "member");
        var named = await LinkAsync(member, code);
        var ownerBefore = await OwnerNameAsync(member);
        var first = await LinkAsync(member, code + " confirm");
        var again = await LinkAsync(member with { Id = "80351110224678913" }, code + " confirm");

        Assert.Multiple(() =>
        {
            Assert.That(named, Does.Contain($"'{username}'").And.Contain("/link code:"), "the account is named first");
            Assert.That(ownerBefore, Is.EqualTo("discord:80351110224678912"), "and nothing moved before confirming");
            Assert.That(first, Does.StartWith($"Linked to '{username}'"));
            Assert.That(again, Does.Contain("unknown, used or expired"), "a code works once");
        });
        Assert.That(await OwnerNameAsync(member), Is.EqualTo(username), "the member is now the web account");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await Expect(chat.Page.Locator("#link-code")).ToBeHiddenAsync(); // a used code is not shown again
        var unlink = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Unlink Discord account 80351110224678912" });
        await Expect(unlink).ToBeVisibleAsync();
        await unlink.ClickAsync();
        await Expect(chat.Page.Locator("#linked-list")).ToContainTextAsync("None linked.");
        Assert.That(await OwnerNameAsync(member), Is.EqualTo("discord:80351110224678912"),
            "unlinked: the member is their own user again");
    }

    private async Task<string?> OwnerNameAsync(ChannelMember member)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var identity = await scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>()
            .FindAsync(member.Network, member.Id, CancellationToken.None);
        var owner = await scope.ServiceProvider.GetRequiredService<IUserRepository>()
            .GetAsync(identity!.UserId, CancellationToken.None);
        return owner?.Username.Value;
    }

    private async Task<string> LinkAsync(ChannelMember member, string code)
    {
        // The API host serves no chat network: the commands are made as the server bot's composition makes them,
        // over this host's stores, so the code is redeemed against the very database the web app wrote it to.
        await using var scope = Host.Services.CreateAsyncScope();
        var members = ActivatorUtilities.CreateInstance<ChannelMembers>(scope.ServiceProvider);
        IChannelCommands commands = ActivatorUtilities.CreateInstance<ChannelCommands>(scope.ServiceProvider, members);
        return await commands.LinkAsync(member, code, privately: true, CancellationToken.None);
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Web.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NUnit.Framework;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The direct relay's host tokens in the admin console (issue 39), in Chromium on both databases: a bad name is refused
/// with the field's message, a token is made and shown once with a copy button, listed without the token, refused a
/// second time for the same host, and revoked.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class HostTokenConsoleTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    protected override bool WithEngine => false;

    [Test]
    public async Task TheModelHostsSection_MakesAHostToken_ShowsItOnceWithACopyButton_AndRevokesIt()
    {
        var admin = await AdminConsole.SignInAsync(await NewPageAsync());
        var page = admin.Page;
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await admin.OpenConsoleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Model hosts", Exact = true }).ClickAsync();
        var tokens = page.Locator("#host-tokens");
        await Expect(tokens).ToContainTextAsync("No host token yet.");
        var create = page.GetByRole(AriaRole.Button, new() { Name = "Create host token" });

        await page.GetByLabel("Host name").FillAsync("no spaces please");
        await create.ClickAsync();
        await Expect(page.Locator("#admin-error")).ToContainTextAsync("letters, digits, dots, dashes or underscores");
        await Expect(page.Locator("#host-token-created")).ToBeHiddenAsync();

        await page.GetByLabel("Host name").FillAsync("studio-mac");
        await create.ClickAsync();
        var shown = page.GetByLabel("New host token");
        await Expect(shown).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("^mlh_"));
        var token = await shown.InputValueAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Copy", Exact = true }).ClickAsync();
        await Expect(page.Locator("#host-token-copy")).ToHaveTextAsync("Copied");
        Assert.That(await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"), Is.EqualTo(token));
        await Expect(tokens).ToContainTextAsync("studio-mac");
        await Expect(tokens).ToContainTextAsync("never connected");
        await Expect(tokens).ToContainTextAsync($"({ApiHost.OperatorName})");
        Assert.That(await tokens.TextContentAsync(), Does.Not.Contain(token), "listed without the token");
        Assert.That(await LiveTokenAsync(token), Is.True, "the token shown is the one a host signs in with");

        await page.GetByLabel("Host name").FillAsync("studio-mac");
        await create.ClickAsync();
        await Expect(page.Locator("#admin-error")).ToContainTextAsync("has a token already");

        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke studio-mac's token" }).ClickAsync();
        await Expect(tokens).ToContainTextAsync("revoked");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Revoke studio-mac's token" })).ToHaveCountAsync(0);
        Assert.That(await LiveTokenAsync(token), Is.False, "revoked in the store");

        await page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await admin.OpenConsoleAsync();
        await Expect(page.Locator("#host-token-created")).ToBeHiddenAsync(); // shown once, not again
    }

    private async Task<bool> LiveTokenAsync(string token)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var stored = await scope.ServiceProvider.GetRequiredService<IRelayHostTokens>()
            .FindByHashAsync(RegistrationCodes.Hash(token), CancellationToken.None);
        return stored is { IsRevoked: false };
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>The thumbs under an answer rate it, show the rating given after a reload, change it, and withdraw it.</summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class FeedbackTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task TheThumbsUnderAnAnswer_RateIt_KeepTheRatingOverAReload_AndChangeIt()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("Rate this");
        await chat.WaitForAnswersAsync(1);
        var good = chat.Answers.Last.GetByRole(AriaRole.Button, new() { Name = "Good answer" });
        var bad = chat.Answers.Last.GetByRole(AriaRole.Button, new() { Name = "Bad answer" });
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "false");

        await good.ClickAsync();
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "true");
        await chat.Page.ReloadAsync();
        await chat.WaitForAnswersAsync(1);
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(bad).ToHaveAttributeAsync("aria-pressed", "false");

        await bad.ClickAsync();
        await Expect(bad).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(chat.Page.Locator("#messages article.msg.user .feedback")).ToHaveCountAsync(0, new() { Timeout = 1000 });
    }

    [Test]
    public async Task TheThumbGiven_PressedAgain_WithdrawsTheRating_AlsoAfterAReload()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("Rate this, then not");
        await chat.WaitForAnswersAsync(1);
        var good = chat.Answers.Last.GetByRole(AriaRole.Button, new() { Name = "Good answer" });
        var bad = chat.Answers.Last.GetByRole(AriaRole.Button, new() { Name = "Bad answer" });
        await good.ClickAsync();
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "true");

        await good.ClickAsync();
        await Expect(good).ToHaveAttributeAsync("aria-pressed", "false");
        await chat.Page.ReloadAsync();
        await chat.WaitForAnswersAsync(1);

        await Expect(good).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(bad).ToHaveAttributeAsync("aria-pressed", "false");
    }
}

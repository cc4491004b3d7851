using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>Sending too fast: the page says when to try again.</summary>
[Parallelizable(ParallelScope.None)]
public sealed class RateLimitTests : BrowserFixture
{
    protected override IDictionary<string, string?> HostSettings => new Dictionary<string, string?>
    {
        ["RateLimits:PerUserPerMinute"] = "1",
        ["RateLimits:UserBurst"] = "1",
    };

    [Test]
    public async Task TooFast_ShowsWhenToTryAgain_AndKeepsTheText()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("one");
        await chat.WaitForAnswersAsync(1);

        await chat.SendAsync("two, too soon");

        await Expect(chat.Banner).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"too quickly\. Try again in \d+ seconds?\."));
        await Expect(chat.Input).ToHaveValueAsync("two, too soon");
        await AccessibilityTests.AssertAccessibleAsync(chat.Page, "rate-limit banner");
    }
}

/// <summary>No model host online: the status says so and fallback replies are marked.</summary>
[Parallelizable(ParallelScope.None)]
public sealed class FallbackTests : BrowserFixture
{
    protected override bool WithEngine => false;

    protected override IDictionary<string, string?> HostSettings => new Dictionary<string, string?>
    {
        ["Fallback:Mode"] = "Markov",
    };

    [TestCase(ColorScheme.Light)]
    [TestCase(ColorScheme.Dark)]
    public async Task ModelHostOffline_StatusSaysSo_AndTheReplyIsMarkedAsFallback(ColorScheme scheme)
    {
        var chat = await NewPageAsync(scheme);
        await chat.RegisterAsync();

        await Expect(chat.Page.Locator("#status-text")).ToContainTextAsync("Model host offline");
        await Expect(chat.Page.Locator("#status-text")).ToContainTextAsync("Markov");
        await chat.SendAsync("is anyone there?");
        await chat.WaitForAnswersAsync(1);

        await Expect(chat.Answers.Last.Locator(".badge.fallback")).ToContainTextAsync("Fallback reply");
        await Expect(chat.Answers.Last).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("fallback"));
        await AccessibilityTests.AssertAccessibleAsync(chat.Page, "fallback reply");
    }
}

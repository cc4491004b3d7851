using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Every screen, in both themes: each piece of text meets WCAG AA contrast against what is behind it and each
/// control has a name a screen reader can say.
/// </summary>
[Parallelizable(ParallelScope.None)]
public sealed class AccessibilityTests : BrowserFixture
{
    private const string Showcase =
        "Some `inline code`, a [link](https://example.org), a **table**:\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n" +
        "```python\n# a comment\ndef greet(name):\n    return f\"Hello, {name}!\" if name else None\n```\n\n" +
        "```csharp\n// another\nvar x = new List<int> { 1, 2 }; // done\nreturn $\"{x.Count}\";\n```";

    [TestCase(ColorScheme.Light)]
    [TestCase(ColorScheme.Dark)]
    public async Task EveryScreen_HasContrastingText_AndNamedControls(ColorScheme scheme)
    {
        var chat = await NewPageAsync(scheme);
        await chat.OpenAsync();
        await Expect(chat.Page.Locator("#auth")).ToBeVisibleAsync();
        await AssertAccessibleAsync(chat.Page, "sign-in");

        await chat.RegisterAsync();
        Host.Engine.Reply = _ => Showcase;
        await chat.SendAsync("show me everything");
        await chat.WaitForAnswersAsync(1);
        Host.Engine.FailWith = "the model ran out of memory";
        await chat.SendAsync("and a notice");
        await chat.WaitForAnswersAsync(2);
        await Expect(chat.Answers.Last.Locator(".badge.notice")).ToBeVisibleAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await chat.Page.Locator("#chat-list .chat-open").First.ClickAsync();
        await Expect(chat.Answers).ToHaveCountAsync(2);
        await AssertAccessibleAsync(chat.Page, "chat with a notice");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        await chat.Page.GetByLabel("Temperature", new() { Exact = true }).FillAsync("9");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(chat.Page.Locator("#settings-error")).Not.ToBeEmptyAsync();
        await AssertAccessibleAsync(chat.Page, "settings dialog with an error");
        await chat.Page.Keyboard.PressAsync("Escape");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByLabel("New key name").FillAsync("script");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("script");
        await AssertAccessibleAsync(chat.Page, "API keys dialog");
        await chat.Page.Keyboard.PressAsync("Escape");

        await chat.Page.Context.SetOfflineAsync(true);
        await Expect(chat.Banner).ToContainTextAsync("You are offline");
        await AssertAccessibleAsync(chat.Page, "offline banner");
        await chat.Page.Context.SetOfflineAsync(false);
    }

    public static async Task AssertAccessibleAsync(IPage page, string screen)
    {
        Assert.That(await Accessibility.LowContrastTextAsync(page), Is.Empty, $"contrast on the {screen} screen");
        Assert.That(await Accessibility.UnnamedControlsAsync(page), Is.Empty, $"unnamed controls on the {screen} screen");
    }
}

using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Branches in the web app: the second question of a chat edited into a new version starts a branch, "‹ 1/2 ›" switches
/// back and forth, and the model host is asked the conversation shown; on both storages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class BranchTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task EditingTheSecondQuestion_ShowsTheNewBranch_AndSwitchingVersions_ChangesWhatTheModelIsAsked()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        for (var i = 0; i < 3; i++)
        {
            await chat.SendAsync(new[] { "one", "two", "three" }[i]);
            await chat.WaitForAnswersAsync(i + 1);
        }

        var shown = chat.Page.Locator("#messages article.msg");
        var second = chat.Page.Locator("#messages article.msg.user").Nth(1);
        await second.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await Expect(chat.Input).ToHaveValueAsync("two");
        await chat.Input.FillAsync("two, edited");
        await chat.Input.PressAsync("Enter");

        await Expect(chat.Answers.Last).ToContainTextAsync("You said: two, edited");
        await Expect(shown).ToHaveCountAsync(4);
        await Expect(second).ToContainTextAsync("two, edited");
        await Expect(second.Locator(".version-count")).ToHaveTextAsync("2/2");
        Assert.That(LastPrompt(), Is.EqualTo(new[] { "one", "You said: one", "two, edited" }));

        await second.GetByRole(AriaRole.Button, new() { Name = "Previous version" }).ClickAsync();
        await Expect(shown).ToHaveCountAsync(6);
        await Expect(second.Locator(".version-count")).ToHaveTextAsync("1/2");
        await Expect(chat.Answers.Last).ToContainTextAsync("You said: three");
        await chat.SendAsync("four");
        await Expect(chat.Answers.Last).ToContainTextAsync("You said: four");
        Assert.That(LastPrompt(), Is.EqualTo(new[] { "one", "You said: one", "two", "You said: two", "three", "You said: three", "four" }));

        await second.GetByRole(AriaRole.Button, new() { Name = "Next version" }).ClickAsync();
        await Expect(shown).ToHaveCountAsync(4);
        await Expect(second).ToContainTextAsync("two, edited");
        await chat.SendAsync("five");
        await Expect(chat.Answers.Last).ToContainTextAsync("You said: five");
        Assert.That(LastPrompt(), Is.EqualTo(new[] { "one", "You said: one", "two, edited", "You said: two, edited", "five" }));

        // The switch is the chat's: a reload shows the same branch.
        await chat.Page.ReloadAsync();
        await Expect(shown).ToHaveCountAsync(6);
        await Expect(chat.Page.Locator("#messages article.msg.user").Nth(1)).ToContainTextAsync("two, edited");
    }

    [Test]
    public async Task Regenerating_ShowsTheNewAnswer_AsTheSecondVersion()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("hello");
        await chat.WaitForAnswersAsync(1);
        Engine.Reply = _ => "Another take";

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Regenerate" }).ClickAsync();

        await Expect(chat.Answers.Last).ToContainTextAsync("Another take");
        await Expect(chat.Answers.Last.Locator(".version-count")).ToHaveTextAsync("2/2");
        await chat.Answers.Last.GetByRole(AriaRole.Button, new() { Name = "Previous version" }).ClickAsync();
        await Expect(chat.Answers.Last).ToContainTextAsync("You said: hello");
        await Expect(chat.Answers).ToHaveCountAsync(1);
    }

    private string[] LastPrompt() => Engine.Requests.Last().Turns.Select(t => t.Content).ToArray();
}

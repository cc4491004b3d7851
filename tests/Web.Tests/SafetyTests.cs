using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>Text from users and from the model reaches the page as text: nothing in it runs.</summary>
[Parallelizable(ParallelScope.None)]
public sealed class SafetyTests : BrowserFixture
{
    [Test]
    public async Task HtmlAndScript_InMessagesAndAnswers_RenderAsText_AndRunNothing()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        const string Attack = "<img src=x onerror=\"window.__pwned='img'\"> and <script>window.__pwned='script'</script> " +
                              "[click](javascript:window.__pwned='link') <iframe src=\"/\"></iframe>";
        Host.Engine.Reply = r => "Echo: " + r.Turns[^1].Content; // the model repeats it, markdown and all

        await chat.SendAsync(Attack);
        await chat.WaitForAnswersAsync(1);

        var messages = chat.Page.Locator("#messages");
        await Expect(messages.Locator("article.msg.user")).ToContainTextAsync("<img src=x onerror=");
        await Expect(messages.Locator("article.msg.user")).ToContainTextAsync("<script>window.__pwned='script'</script>");
        await Expect(chat.Answers.Last).ToContainTextAsync("<img src=x onerror=");
        await Expect(chat.Answers.Last).ToContainTextAsync("<script>");
        Assert.That(await messages.Locator("img, script, iframe").CountAsync(), Is.Zero);
        Assert.That(await messages.Locator("a[href^='javascript' i]").CountAsync(), Is.Zero);
        await chat.Page.WaitForTimeoutAsync(300);
        Assert.That(await chat.Page.EvaluateAsync<string?>("() => window.__pwned ?? null"), Is.Null);

        await chat.Page.ReloadAsync(); // and again from the stored history
        await chat.WaitForAnswersAsync(1);
        Assert.That(await messages.Locator("img, script, iframe").CountAsync(), Is.Zero);
        Assert.That(await chat.Page.EvaluateAsync<string?>("() => window.__pwned ?? null"), Is.Null);
    }

    [Test]
    public async Task FallbackAndNoticeReplies_AreMarkedAsSuch()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Host.Engine.FailWith = "the model ran out of memory";

        await chat.SendAsync("hello?");
        await chat.WaitForAnswersAsync(1);

        await Expect(chat.Answers.Last.Locator(".badge.notice")).ToHaveTextAsync("Notice from MeatLizard");
        await Expect(chat.Answers.Last).ToContainTextAsync("could not answer");
    }

    [Test]
    public async Task Status_ShowsTheModelHostOnline()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();

        await Expect(chat.Page.Locator("#status-text")).ToHaveTextAsync("Model host online");
        await Expect(chat.Page.Locator("#status-dot")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("online"));
    }

    [Test]
    public async Task WhileWaiting_TheQueueIsShown()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(400);

        await chat.SendAsync("wait for it");

        await Expect(chat.Page.Locator("#queue-text")).Not.ToBeEmptyAsync();
        await chat.WaitForAnswersAsync(1);
        await Expect(chat.Page.Locator("#queue-text")).ToBeEmptyAsync();
    }
}

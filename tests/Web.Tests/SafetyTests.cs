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
    public async Task WhileAnAnswerRuns_ItsStateIsShown()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(400);

        await chat.SendAsync("wait for it");

        await Expect(chat.Page.Locator("#queue-text")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("Waiting in queue|Sent to the model host|Writing an answer"));
        await chat.WaitForAnswersAsync(1);
        await Expect(chat.Page.Locator("#queue-text")).ToBeEmptyAsync();
    }

    /// <summary>
    /// The server says where a waiting request stands in its status snapshot (the in-process relay dispatches at
    /// once, so a real backlog needs the distributed mode); here the snapshot is put on the page's real WebSocket.
    /// </summary>
    [Test]
    public async Task QueuePosition_FromTheServer_IsShownUntilTheAnswerStarts()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        var sockets = new List<IWebSocketRoute>();
        await chat.Page.RouteWebSocketAsync("**/stream", route =>
        {
            route.ConnectToServer();
            lock (sockets)
            {
                sockets.Add(route);
            }
        });
        await chat.SendAsync("first");
        await chat.WaitForAnswersAsync(1);
        var sessionId = chat.Page.Url[^36..];
        Host.Engine.Hang = true;

        var sent = await chat.Page.RunAndWaitForResponseAsync(() => chat.SendAsync("second"), r => r.Url.EndsWith("/send", StringComparison.Ordinal));
        var requestId = (await sent.JsonAsync())!.Value.GetProperty("requestId").GetString();
        IWebSocketRoute socket;
        lock (sockets)
        {
            socket = sockets[^1];
        }

        // The server's own "dispatched" comes first (the engine then hangs), so it cannot overtake the status sent below.
        await Expect(chat.Page.Locator("#queue-text")).ToHaveTextAsync("· Sent to the model host");
        socket.Send(System.Text.Json.JsonSerializer.Serialize(new { type = "status", sessionId, requestId, status = "pending", queuePosition = 3 }));
        await Expect(chat.Page.Locator("#queue-text")).ToHaveTextAsync("· Waiting in queue (position 3)");
        await Expect(chat.Page.Locator("#status")).ToContainTextAsync("Waiting in queue (position 3)"); // the live region says it
        socket.Send(System.Text.Json.JsonSerializer.Serialize(new { type = "status", sessionId, requestId, status = "dispatched" }));
        await Expect(chat.Page.Locator("#queue-text")).ToHaveTextAsync("· Sent to the model host");

        await chat.Page.Keyboard.PressAsync("Escape");
        await Expect(chat.Page.Locator("#queue-text")).ToBeEmptyAsync();
    }
}

using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// What a user does in the web app, in a real Chromium against the real API: embedded, once more on the production
/// storage (PostgreSQL + Redis), where the regenerate and edit buttons once failed while every test here passed, a
/// third time against distributed mode (<see cref="ApiModes.Distributed"/>): the page talks to an API process that only
/// queues, the server bot dispatches and the client bot answers over the loopback Discord with the engine scripted here,
/// and on each storage with the direct relay (<see cref="ApiModes.DirectRelay"/>, issue 39): the API has no model host
/// of its own, and a client bot that dialled its relay endpoint with a host token answers, token by token.
/// </summary>
[TestFixtureSource(typeof(ApiModes), nameof(ApiModes.Names))]
[Parallelizable(ParallelScope.None)]
public sealed partial class ChatJourneyTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    private const string MarkdownReply =
        "Here is **code**:\n\n```csharp\nvar answer = 42;\n```\n\n| name | value |\n| --- | --- |\n| a | 1 |\n\n- first\n- second";

    [Test]
    public async Task Register_Chat_TheAnswerStreamsAsMarkdown_AndTheSessionSurvivesAReload()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Engine.Reply = _ => MarkdownReply;
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);

        // Every text the answer being written shows, recorded as the page changes: over the Discord relay the draft
        // may be on screen for well under a second, between two of Playwright's polls (1 s apart after the first
        // second), as in a clean-clone CI run of the distributed mode where the answer was complete and no poll had
        // seen its draft.
        await chat.Page.EvaluateAsync(ChatPage.RecordDraftsScript);
        await chat.SendAsync("Show me some code");

        await chat.WaitForAnswersAsync(1);
        Assert.That(await chat.RecordedDraftsAsync(), Is.Not.Empty, "pieces arrive before the answer is complete");
        var answer = chat.Answers.Last;
        await Expect(answer.Locator("pre code.hljs")).ToContainTextAsync("var answer = 42;");
        await Expect(answer.Locator("pre code .hljs-keyword").First).ToBeVisibleAsync();
        await Expect(answer.Locator("table td").First).ToHaveTextAsync("a");
        await Expect(answer.Locator("li")).ToHaveCountAsync(2);
        await Expect(answer.GetByRole(AriaRole.Button, new() { Name = "Copy" })).ToBeVisibleAsync();
        await Expect(chat.Page.Locator("#chat-list .chat-open").First).ToHaveTextAsync("Show me some code");

        await answer.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        Assert.That(await chat.Page.EvaluateAsync<string>("() => navigator.clipboard.readText()"), Is.EqualTo("var answer = 42;"));

        var session = (await chat.Page.Context.CookiesAsync()).Single(c => c.Name == "meatlizard.session");
        Assert.That(session.HttpOnly, Is.True);
        Assert.That(await chat.Page.EvaluateAsync<string>("() => document.cookie"), Does.Not.Contain("meatlizard.session"));
        await chat.Page.ReloadAsync();
        await chat.WaitForAnswersAsync(1);
        await Expect(chat.Page.Locator("#me-name")).Not.ToBeEmptyAsync();
        Assert.That(chat.Page.Url, Does.Match("/c/[0-9a-f-]{36}$"));
    }

    [Test]
    public async Task ReloadMidAnswer_ContinuesWhereItWas_WithNothingLostOrDoubled()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        var words = Enumerable.Range(1, 40).Select(i => $"w{i}").ToArray();
        Engine.Reply = _ => string.Join(' ', words);
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(80);

        await chat.SendAsync("count for me");
        await Expect(chat.Draft).ToContainTextAsync("w6");
        await chat.Page.Context.AddInitScriptAsync(ChatPage.RecordDraftsScript); // every text the reloaded page shows
        await chat.Page.ReloadAsync();
        await Expect(chat.Draft).ToContainTextAsync("w1 w2 w3"); // the snapshot brought what was written before
        await chat.WaitForAnswersAsync(1);

        var final = string.Join(' ', words);
        var text = (await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim();
        Assert.That(text, Is.EqualTo(final));
        await Expect(chat.Draft).ToHaveCountAsync(0);
        await Expect(chat.Page.Locator("#messages article.msg")).ToHaveCountAsync(2);
        await Expect(chat.Page.Locator("#messages article.msg.user")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^You\\s*count for me"));
        AssertEveryDraftIsAPrefix(await chat.RecordedDraftsAsync(), final);
    }

    [Test]
    public async Task AnAnswerWhoseEngineDiedMidway_GoesOnFromWhatThePageShowed_TheDraftNeverGoesAway()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.Page.Context.AddInitScriptAsync(ChatPage.RecordDraftsScript);
        await chat.Page.Context.AddInitScriptAsync(CountDraftGapsScript);
        await chat.Page.ReloadAsync();
        await Expect(chat.Page.Locator("#me-name")).Not.ToBeEmptyAsync();
        // A model that would answer differently if asked again from the start: only going on from what was shown keeps
        // the text the page showed.
        var calls = 0;
        const string Ending = " and so on to the end";
        Engine.Reply = r => r.AnswerStart is { } start
            ? start + Ending
            : Interlocked.Increment(ref calls) == 1
                ? string.Join(' ', Enumerable.Range(1, 24).Select(i => $"v{i}"))
                : "a different answer altogether";
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        Engine.LoseEngineAfterWords = 8;

        await chat.SendAsync("go on");
        await chat.WaitForAnswersAsync(1);

        var final = (await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim();
        Assert.That(final, Does.StartWith("v1").And.EndWith(Ending.Trim()));
        AssertEveryDraftIsAPrefix(await chat.RecordedDraftsAsync(), final);
        Assert.That(await chat.Page.EvaluateAsync<int>("() => window.__draftGaps ?? -1"), Is.Zero,
            "the answer being written stayed on the page while its request went to the host again");
    }

    /// <summary>Counts each time the answer being written left the page without its stored answer arriving with it.</summary>
    private const string CountDraftGapsScript = @"(() => {
        if (window.__draftGaps !== undefined) return;
        window.__draftGaps = 0;
        let shown = false, answers = 0;
        new MutationObserver(() => {
            const count = document.querySelectorAll('#messages article.msg.assistant:not(.streaming)').length;
            if (document.querySelector('#messages article.streaming')) {
                shown = true;
                answers = count;
            } else if (shown) {
                shown = false;
                if (count === answers) window.__draftGaps++;
            }
        }).observe(document, { subtree: true, childList: true });
    })()";

    /// <summary>
    /// What the page showed while the answer was being written was, at every moment, the start of the final answer:
    /// no piece shown twice, none skipped and filled in later; and it grew on this page, not only at the end.
    /// </summary>
    private static void AssertEveryDraftIsAPrefix(IReadOnlyList<string> drafts, string final)
    {
        Assert.That(drafts, Is.Not.Empty, "the page showed the answer while it was being written");
        Assert.That(drafts, Has.All.Matches<string>(d => final.StartsWith(d, StringComparison.Ordinal)), string.Join(" | ", drafts));
        Assert.That(drafts.Select(d => d.Length), Is.Ordered.Ascending, "the text only ever grew");
        Assert.That(drafts, Has.Count.GreaterThan(1), "pieces kept arriving after the (re)connection");
    }

    [Test]
    public async Task LostConnection_Reconnects_AndTheAnswerCompletesOnce()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        var words = Enumerable.Range(1, 30).Select(i => $"p{i}").ToArray();
        Engine.Reply = _ => string.Join(' ', words);
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(80);

        var sockets = new List<IWebSocketRoute>();
        await chat.Page.RouteWebSocketAsync("**/stream", route =>
        {
            route.ConnectToServer();
            lock (sockets)
            {
                sockets.Add(route);
            }
        });

        await chat.Page.EvaluateAsync(ChatPage.RecordDraftsScript);
        await chat.SendAsync("stream please");
        await Expect(chat.Draft).ToContainTextAsync("p4");
        await sockets[^1].CloseAsync(); // the connection drops mid-answer
        await Expect(chat.Banner).ToContainTextAsync("Connection to the server lost");
        await chat.WaitForAnswersAsync(1);

        var final = string.Join(' ', words);
        Assert.That((await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim(), Is.EqualTo(final));
        await Expect(chat.Page.Locator("#messages article.msg")).ToHaveCountAsync(2);
        Assert.That(sockets, Has.Count.GreaterThanOrEqualTo(2), "the page opened a new connection");
        AssertEveryDraftIsAPrefix(await chat.RecordedDraftsAsync(), final);
    }

    [Test]
    public async Task Offline_SendingSaysSo_AndKeepsTheText()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("first");
        await chat.WaitForAnswersAsync(1);

        await chat.Page.Context.SetOfflineAsync(true);
        await chat.SendAsync("while offline");

        await Expect(chat.Banner).ToContainTextAsync("You are offline");
        await Expect(chat.Input).ToHaveValueAsync("while offline");
        await chat.Page.Context.SetOfflineAsync(false);
        await Expect(chat.Banner).ToContainTextAsync("Back online");
    }

    /// <summary>
    /// A question the server took is not put back in the box when what follows the send fails (the chat read again, with
    /// the connection gone a moment after): sending it again would ask it twice. Before, the page put it back — the
    /// Offline test above saw "first" return to the box in one CI run, its chat's read cut by going offline.
    /// </summary>
    [Test]
    public async Task ASentQuestion_StaysOutOfTheBox_WhenReadingTheChatAfterTheSendFails()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("first");
        await chat.WaitForAnswersAsync(1);
        // Only the reads that follow the send's reply are cut, and every one of them until the page reports the error:
        // the chat's socket reloads the newest page itself whenever it (re)connects, swallowing a failure, and one CI
        // run (of aeb7cea6) had that reload take the single cut while the send's own read went through. The reply is
        // fetched here and the cutting begins before the page receives it, so the read the send makes is always cut.
        var cutting = 0;
        var cut = 0;
        await chat.Page.RouteAsync(new System.Text.RegularExpressions.Regex("/api/v1/sessions/[^/]+/send$"), async route =>
        {
            var reply = await route.FetchAsync();
            Volatile.Write(ref cutting, 1);
            await route.FulfillAsync(new() { Response = reply });
        });
        await chat.Page.RouteAsync(new System.Text.RegularExpressions.Regex("/api/v1/sessions/[^/]+/messages\\?"), async route =>
        {
            if (Volatile.Read(ref cutting) == 1)
            {
                Interlocked.Increment(ref cut);
                await route.AbortAsync();
            }
            else
            {
                await route.ContinueAsync();
            }
        });

        await chat.SendAsync("second");
        // The answer can be shown from the chat's socket before the page even asks for that read (the send's reply and
        // the answer's events race): the failed read is waited for by what the page does with it, the error it reports —
        // in the same step in which the old page put the text back.
        await Expect(chat.Banner).ToBeVisibleAsync();
        Volatile.Write(ref cutting, 0);

        Assert.That(cut, Is.GreaterThanOrEqualTo(1), "the chat's read after the send was cut");
        await Expect(chat.Input).ToHaveValueAsync("");
        await chat.WaitForAnswersAsync(2);
        await Expect(chat.Page.Locator("#messages article.msg.user").Filter(new() { HasText = "second" })).ToHaveCountAsync(1);
    }

    [Test]
    public async Task Escape_StopsTheAnswer_KeepingWhatWasWritten()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Engine.Reply = _ => string.Join(' ', Enumerable.Range(1, 200).Select(i => $"s{i}"));
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(50);

        await chat.SendAsync("a long one");
        await Expect(chat.Draft).ToContainTextAsync("s3");
        await Expect(chat.Page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeVisibleAsync();
        await chat.Page.Keyboard.PressAsync("Escape");

        await chat.WaitForAnswersAsync(1);
        var kept = (await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim();
        Assert.That(kept, Does.StartWith("s1 s2 s3"));
        Assert.That(kept, Does.Not.Contain("s200"));
        await Expect(chat.Page.GetByRole(AriaRole.Button, new() { Name = "Send" })).ToBeVisibleAsync();
    }

    [Test]
    public async Task StopButton_StopsTheAnswer_AndTheEngineIsCancelled()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Engine.Reply = _ => string.Join(' ', Enumerable.Range(1, 200).Select(i => $"b{i}"));
        Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(50);
        var cancellations = Engine.Cancellations;

        await chat.SendAsync("another long one");
        await Expect(chat.Draft).ToContainTextAsync("b3");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();

        await chat.WaitForAnswersAsync(1);
        var kept = (await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim();
        Assert.That(kept, Does.StartWith("b1 b2 b3"));
        Assert.That(kept, Does.Not.Contain("b200"));
        await Expect(chat.Page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeHiddenAsync();
        // The stopped answer is stored and shown as soon as the stop is relayed; the engine notices its cancelled
        // token a moment later (a CI run read the count in between).
        Assert.That(() => Engine.Cancellations, Is.GreaterThan(cancellations).After(5000, 50), "the model host was told to stop");
    }

    [Test]
    public async Task Regenerate_ShowsTheNewAnswer_AndEdit_TheNewQuestion()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("hello");
        await chat.WaitForAnswersAsync(1);
        var take = 0;
        Engine.Reply = r => $"Take {++take} on {r.Turns[^1].Content}";

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Regenerate" }).ClickAsync();
        await Expect(chat.Answers.Last).ToContainTextAsync("Take 1 on hello");
        await Expect(chat.Answers).ToHaveCountAsync(1);

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await Expect(chat.Input).ToHaveValueAsync("hello");
        await chat.Input.FillAsync("hello again");
        await chat.Input.PressAsync("Enter");

        await Expect(chat.Answers.Last).ToContainTextAsync("Take 2 on hello again");
        await Expect(chat.Page.Locator("#messages article.msg")).ToHaveCountAsync(2);
        await Expect(chat.Page.Locator("#messages article.msg.user")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("hello again"));
    }

    [Test]
    public async Task ShiftEnter_AddsALine_AndEnter_Sends()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();

        await chat.Input.FillAsync("line one");
        await chat.Input.PressAsync("Shift+Enter");
        await chat.Input.PressSequentiallyAsync("line two");
        await Expect(chat.Input).ToHaveValueAsync("line one\nline two");
        await chat.Input.PressAsync("Enter");

        await chat.WaitForAnswersAsync(1);
        Assert.That(await chat.Page.Locator("#messages article.msg.user .body").InnerTextAsync(), Is.EqualTo("line one\nline two"));
    }

    [Test]
    public async Task TheModelField_OffersTheModelsTheHostsServe_AndSaysHowEachStands()
    {
        var before = Engine.Health;
        Engine.Health = before with { Models = ["alpha", "beta"], Slots = 2 };
        try
        {
            var chat = await NewPageAsync();
            await chat.RegisterAsync();
            await chat.SendAsync("first");
            await chat.WaitForAnswersAsync(1);
            await WaitForModelsAsync(listed => listed.Contains("\"beta\"", StringComparison.Ordinal));

            await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
            await Expect(chat.Page.Locator("#model-choices option[value=alpha]")).ToHaveCountAsync(1);
            await Expect(chat.Page.Locator("#model-choices option[value=beta]")).ToHaveAttributeAsync("label",
                new System.Text.RegularExpressions.Regex("^1 host · [12] of 2 slots free"));
            await Expect(chat.Page.Locator("#model-hint")).ToContainTextAsync("Platform default");
            await chat.Page.GetByLabel("Model", new() { Exact = true }).FillAsync("zeta");
            await Expect(chat.Page.Locator("#model-hint")).ToHaveTextAsync("zeta: no host serves it now; questions wait until one does.");
            await chat.Page.GetByLabel("Model", new() { Exact = true }).FillAsync("beta");
            await Expect(chat.Page.Locator("#model-hint")).ToContainTextAsync("beta: 1 host");
            await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
            await Expect(chat.Page.Locator("#settings-dialog")).Not.ToBeVisibleAsync();
            await chat.SendAsync("second");
            await chat.WaitForAnswersAsync(2);

            Assert.That(Engine.Requests[^1].Model, Is.EqualTo("beta"));
        }
        finally
        {
            // The host serves any model again, as the other tests expect, once its next heartbeat says so.
            Engine.Health = before;
            await WaitForModelsAsync(listed => !listed.Contains("\"beta\"", StringComparison.Ordinal));
        }
    }

    /// <summary>Waits until <c>/api/v1/models</c> answers what <paramref name="done"/> accepts (the hosts' next heartbeat).</summary>
    private async Task WaitForModelsAsync(Func<string, bool> done)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!done(await http.GetStringAsync("api/v1/models")))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the hosts' models did not change in /api/v1/models");
            await Task.Delay(200);
        }
    }

    [Test]
    public async Task Settings_AreSavedPerChat_AndUsedForTheAnswer()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("first");
        await chat.WaitForAnswersAsync(1);

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        await chat.Page.GetByLabel("Model", new() { Exact = true }).FillAsync("tiny-model");
        await chat.Page.GetByLabel("System prompt / persona").FillAsync("You are a pirate.");
        await chat.Page.GetByLabel("Temperature", new() { Exact = true }).FillAsync("0.3");
        await chat.Page.GetByLabel("Max tokens").FillAsync("64");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(chat.Page.Locator("#settings-dialog")).Not.ToBeVisibleAsync();
        await chat.SendAsync("second");
        await chat.WaitForAnswersAsync(2);

        var request = Engine.Requests[^1];
        Assert.That(request.Model, Is.EqualTo("tiny-model"));
        Assert.That(request.SystemPrompt, Is.EqualTo("You are a pirate."));
        Assert.That(request.Temperature, Is.EqualTo(0.3).Within(1e-9));
        Assert.That(request.MaxTokens, Is.EqualTo(64));

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        await chat.Page.GetByLabel("Temperature", new() { Exact = true }).FillAsync("7");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(chat.Page.Locator("#settings-error")).Not.ToBeEmptyAsync();
    }

    [Test]
    public async Task Sidebar_NewRenameFilterAndClose()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("about apples");
        await chat.WaitForAnswersAsync(1);
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await chat.SendAsync("about pears");
        await chat.WaitForAnswersAsync(1);
        var titles = chat.Page.Locator("#chat-list .chat-open");
        await Expect(titles).ToHaveTextAsync(["about pears", "about apples"]); // newest first

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Rename chat about apples" }).ClickAsync();
        await chat.Page.Locator("#rename-input").FillAsync("Fruit: apples");
        await chat.Page.Locator("#rename-form button[type=submit]").ClickAsync();
        await Expect(titles.Filter(new() { HasText = "Fruit: apples" })).ToHaveCountAsync(1);

        await chat.Page.GetByLabel("Search chats and messages").FillAsync("fruit");
        await Expect(titles).ToHaveTextAsync(["Fruit: apples"]);
        await chat.Page.GetByLabel("Search chats and messages").FillAsync("");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close chat about pears" }).ClickAsync();
        await Expect(chat.Input).ToBeDisabledAsync(); // the open chat is closed: nothing more can be sent
        await titles.Filter(new() { HasText = "Fruit: apples" }).ClickAsync();
        await Expect(titles).ToHaveTextAsync(["Fruit: apples"]);
        await chat.Page.GetByLabel("Show closed chats").CheckAsync();
        await Expect(titles).ToHaveCountAsync(2);
    }

    [Test]
    public async Task ClosedChat_SendingThroughTheApi_ShowsTheReason()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("hello");
        await chat.WaitForAnswersAsync(1);
        var sessionId = chat.Page.Url[^36..];

        // Closed from elsewhere (another tab or program): the page finds out when it sends.
        await chat.Page.EvaluateAsync(@"async id => {
            const token = document.cookie.split('; ').find(c => c.startsWith('meatlizard.csrf=')).split('=')[1];
            await fetch('/api/v1/sessions/' + id, { method: 'DELETE', headers: { 'X-CSRF-Token': token } });
        }", sessionId);
        // The page's own sidebar refresh after the answer may still be on its way and bring the close first (the
        // box is then disabled and says so); otherwise the send finds out. Either way the user is told why.
        try
        {
            await chat.Input.FillAsync("are you there?", new() { Timeout = 3000 });
            await chat.Input.PressAsync("Enter", new() { Timeout = 3000 });
        }
        catch (TimeoutException)
        {
            // Disabled meanwhile: the page already knew.
        }

        var told = chat.Page.Locator("#banner:has-text('This chat is closed'), textarea#input[disabled][placeholder^='This chat is closed']");
        await Expect(told.First).ToBeVisibleAsync();
        if (await chat.Banner.TextContentAsync() is { } banner && banner.Contains("This chat is closed", StringComparison.Ordinal))
        {
            await Expect(chat.Input).ToHaveValueAsync("are you there?"); // what the user wrote is not lost
        }
    }
}

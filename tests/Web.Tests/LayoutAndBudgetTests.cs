using System.IO.Compression;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Phone and desktop, light and dark (with screenshots), keyboard access, the shipped script's size and paging through a
/// long chat. The timing budgets (first piece on screen, a long chat opening) are measured by bench/web.sh
/// (<see cref="WebBudgetBench"/>), not asserted here from one sample.
/// </summary>
[Parallelizable(ParallelScope.None)]
public sealed class LayoutAndBudgetTests : BrowserFixture
{
    private const string Showcase =
        "Sure. A **table**, a list and some code:\n\n| model | speed |\n| --- | --- |\n| tiny | fast |\n| large | slow |\n\n" +
        "1. install\n2. run\n\n```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```";

    [TestCase(ColorScheme.Light, false, "desktop-light")]
    [TestCase(ColorScheme.Dark, false, "desktop-dark")]
    [TestCase(ColorScheme.Light, true, "phone-light")]
    [TestCase(ColorScheme.Dark, true, "phone-dark")]
    public async Task MainScreens_Screenshots(ColorScheme scheme, bool phone, string name)
    {
        var chat = await NewPageAsync(scheme, phone);
        await chat.OpenAsync();
        await Expect(chat.Page.Locator("#auth")).ToBeVisibleAsync();
        await chat.ScreenshotAsync($"{name}-sign-in");
        await chat.RegisterAsync();
        Host.Engine.Reply = _ => Showcase;
        await chat.SendAsync("Compare the models and show me a greeting in Python");
        await chat.WaitForAnswersAsync(1);
        await Expect(chat.Page.Locator("#chat-title")).ToHaveTextAsync("Compare the models and show me a greeting in Python");
        await chat.ScreenshotAsync($"{name}-chat");

        var background = await chat.Page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");
        Assert.That(background, Is.EqualTo(scheme == ColorScheme.Dark ? "rgb(23, 25, 29)" : "rgb(255, 255, 255)"));
        if (phone)
        {
            await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Show chats" }).ClickAsync();
            await Expect(chat.Page.Locator("#sidebar")).ToBeInViewportAsync();
            await chat.Page.WaitForTimeoutAsync(300); // the drawer slides in
            await chat.ScreenshotAsync($"{name}-chats");
            await chat.Page.Keyboard.PressAsync("Escape");
            await Expect(chat.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        }

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        await chat.Page.GetByLabel("System prompt / persona").FillAsync("You are a patient teacher.");
        await chat.ScreenshotAsync($"{name}-settings");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        if (phone)
        {
            await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Show chats" }).ClickAsync(); // API keys are in the drawer
        }

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByLabel("New key name").FillAsync("laptop script");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("laptop script");
        await chat.ScreenshotAsync($"{name}-api-keys");
    }

    [Test]
    public async Task Phone_SidebarIsADrawer_AndNothingScrollsSideways()
    {
        var chat = await NewPageAsync(phone: true);
        await chat.RegisterAsync();
        await chat.SendAsync("hello from a phone");
        await chat.WaitForAnswersAsync(1);

        var menu = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Show chats" });
        await Expect(menu).ToBeVisibleAsync();
        await Expect(chat.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        var overflow = await chat.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.That(overflow, Is.LessThanOrEqualTo(0));
        Assert.That(await Accessibility.TabOrderAsync(chat.Page, "#menu"), Does.Not.Contain("new-chat"), "the closed drawer is out of the tab order");
        await menu.ClickAsync();
        await Expect(menu).ToHaveAttributeAsync("aria-expanded", "true");
        await Expect(chat.Page.Locator("#sidebar")).ToBeInViewportAsync();
        await Expect(chat.Page.Locator("#new-chat")).ToBeFocusedAsync(); // the focus moves into the drawer
        await chat.Page.Keyboard.PressAsync("Escape");
        await Expect(chat.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        await Expect(menu).ToBeFocusedAsync(); // and back to the button that opened it
        await Expect(menu).ToHaveAttributeAsync("aria-expanded", "false");

        await menu.ClickAsync();
        await chat.Page.Mouse.ClickAsync(370, 400); // a tap on the chat beside the drawer closes it
        await Expect(chat.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        await menu.ClickAsync();
        await chat.Page.Locator("#chat-list .chat-open").First.ClickAsync();
        await Expect(chat.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        await Expect(chat.Input).ToBeVisibleAsync();
    }

    [Test]
    public async Task Keyboard_TabOrderReachesEverything_WithLabels()
    {
        var chat = await NewPageAsync();
        await chat.OpenAsync();
        await Expect(chat.Page.Locator("#auth")).ToBeVisibleAsync();

        // Every form control has an accessible name.
        var unnamed = await chat.Page.EvaluateAsync<int>(@"() => [...document.querySelectorAll('input, textarea, select')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length");
        Assert.That(unnamed, Is.Zero);

        await chat.Page.Locator("#auth h1").ClickAsync(); // tabbing starts from the top of the form
        var focused = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            await chat.Page.Keyboard.PressAsync("Tab");
            focused.Add(await chat.Page.EvaluateAsync<string>("() => document.activeElement.id || document.activeElement.textContent.trim()"));
        }

        Assert.That(focused, Is.EqualTo(new[] { "tab-login", "tab-register", "username", "password", "auth-submit" }));
    }

    [Test]
    public async Task Keyboard_TheChatScreen_TabsInReadingOrder_AndDialogsKeepAndReturnTheFocus()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("hello");
        await chat.WaitForAnswersAsync(1);
        await Expect(chat.Page.Locator("#chat-title")).ToHaveTextAsync("hello");
        await Expect(chat.Page.Locator("#chat-list .chat-open", new() { HasText = "hello" })).ToBeVisibleAsync();

        var order = await Accessibility.TabOrderAsync(chat.Page, "#skip");
        Assert.That(order, Is.EqualTo(new[]
        {
            "skip", "new-chat", "filter", "show-closed", "show-archived", "select-chats", "Pin chat hello", "hello", "Rename chat hello",
            "Move chat hello to a folder", "Archive chat hello", "Close chat hello", "import-open", "account-open", "keys-open", "logout",
            "settings-open", "share-open", "export-json", "export-csv", "Edit", "Good answer", "Bad answer", "Regenerate", "attach", "input", "send",
        }));
        Assert.That(await Accessibility.UnnamedControlsAsync(chat.Page), Is.Empty);

        await chat.Page.Locator("#skip").FocusAsync();
        await chat.Page.Keyboard.PressAsync("Enter");
        await Expect(chat.Input).ToBeFocusedAsync(); // the skip link jumps to the message box

        var settings = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" });
        await settings.FocusAsync();
        await chat.Page.Keyboard.PressAsync("Enter");
        await Expect(chat.Page.Locator("#settings-dialog")).ToBeVisibleAsync();
        Assert.That(await chat.Page.EvaluateAsync<bool>("() => !!document.activeElement.closest('#settings-dialog')"), Is.True, "focus is in the dialog");
        for (var i = 0; i < 12; i++)
        {
            await chat.Page.Keyboard.PressAsync("Tab");
            Assert.That(await chat.Page.EvaluateAsync<bool>("() => !document.activeElement.closest('#app')"), Is.True, "the page behind the dialog is not reachable");
        }

        await chat.Page.Keyboard.PressAsync("Escape");
        await Expect(chat.Page.Locator("#settings-dialog")).ToBeHiddenAsync();
        await Expect(settings).ToBeFocusedAsync();
    }

    [Test]
    public void Budget_ShippedJavaScript_IsAtMost90KbGzipped()
    {
        var scripts = Directory.GetFiles(Path.Combine(Paths.WebRoot, "assets"), "*.js");
        long gzipped = 0;
        foreach (var script in scripts)
        {
            using var buffer = new MemoryStream();
            using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                gzip.Write(File.ReadAllBytes(script));
            }

            gzipped += buffer.Length;
        }

        TestContext.Out.WriteLine($"BUDGET js-gzipped-bytes={gzipped} ({gzipped / 1024.0:F1} KB) in {scripts.Length} file(s)");
        Assert.That(scripts, Is.Not.Empty);
        // Issue 37: under 90 KB gzipped, the admin dashboard's charts (uPlot, loaded on first use) included.
        Assert.That(gzipped, Is.LessThanOrEqualTo(90 * 1024));
    }

    /// <summary>
    /// The page shows each piece as it comes, not at the end: the first piece is on screen alone while the engine waits
    /// 2 s before writing the second. A behaviour bound seconds wide, so a shared machine's stall does not fail it; the
    /// 50 ms budget itself is bench/web.sh's (<see cref="WebBudgetBench"/>). What the test process paused for meanwhile
    /// (GC, the thread pool's queue) is printed beside the figure, so a slow sample says whether this process stalled.
    /// </summary>
    [Test]
    public async Task AnAnswersFirstPiece_IsOnScreenAlone_BeforeTheEngineWritesItsSecond()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        Engine.Reply = _ => "firstpiece secondpiece";
        Engine.DelayBetweenWords = TimeSpan.FromSeconds(2);
        await chat.WatchFirstPieceAsync("firstpiece");
        var pausedBefore = GC.GetTotalPauseDuration();

        await chat.SendAsync("one piece at a time");
        var (text, paintedAt) = await chat.FirstPieceOnScreenAsync();
        var paused = GC.GetTotalPauseDuration() - pausedBefore;
        var fromEngine = paintedAt - (Engine.LastFirstPieceAt ?? double.NaN);
        TestContext.Out.WriteLine($"first piece on screen {fromEngine:F1} ms after the engine wrote it; meanwhile this " +
            $"process's GC paused {paused.TotalMilliseconds:F1} ms, {ThreadPool.PendingWorkItemCount} work items queued after");

        Assert.That(text, Does.Contain("firstpiece").And.Not.Contain("secondpiece"),
            "the first piece was on screen before the engine wrote the second, 2 s later");
        await chat.WaitForAnswersAsync(1);
        Assert.That((await chat.Answers.Last.Locator(".body").InnerTextAsync()).Trim(), Is.EqualTo("firstpiece secondpiece"));
    }

    [Test]
    public async Task A500MessageChat_OpensAtItsNewest_AndOlderPagesLoadOnScrollUp()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("the long chat starts here");
        await chat.WaitForAnswersAsync(1);
        var longId = chat.Page.Url[^36..];
        await chat.AddPairsAsync(longId, 249); // 250 questions + 250 answers = 500 messages
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await chat.SendAsync("a short chat");
        await chat.WaitForAnswersAsync(1);

        // Opened from the chat list, and cold from its address: at its newest message either way.
        var newest = chat.Page.Locator("#messages article.msg.user").Filter(new() { HasText = "question 249" });
        await chat.Page.Locator("#chat-list .chat-open").Filter(new() { HasText = "the long chat starts here" }).ClickAsync();
        await Expect(newest).ToBeVisibleAsync();
        await chat.OpenAsync($"/c/{longId}");
        await Expect(newest).ToBeVisibleAsync();

        // Scrolling up with the mouse wheel pages in the older history, 50 at a time, without moving what the user
        // was reading, until the start of the chat.
        var articles = chat.Page.Locator("#messages article.msg");
        var conversation = chat.Page.Locator("#conversation");
        await Expect(articles).ToHaveCountAsync(50);
        await conversation.HoverAsync();
        for (var shown = 100; shown <= 500; shown += 50)
        {
            await chat.Page.Mouse.WheelAsync(0, -1_000_000);
            await Expect(articles).ToHaveCountAsync(shown);
            await Expect(conversation).Not.ToHaveJSPropertyAsync("scrollTop", 0); // kept in place, not thrown to the top
        }

        await Expect(chat.Page.Locator("#history-top")).ToHaveTextAsync("Start of the chat");
        await Expect(chat.Page.Locator("#messages article.msg.user").Filter(new() { HasText = "the long chat starts here" })).ToHaveCountAsync(1);
        var ids = await articles.EvaluateAllAsync<string[]>("all => all.map(a => a.dataset.id)");
        Assert.That(ids, Is.Unique);
        var questions = await chat.Page.Locator("#messages article.msg.user .body").AllInnerTextsAsync();
        Assert.That(questions.Skip(1), Is.EqualTo(Enumerable.Range(1, 249).Select(i => $"question {i}")), "oldest first, none missing or doubled");
    }
}

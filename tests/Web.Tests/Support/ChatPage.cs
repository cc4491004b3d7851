using Microsoft.Playwright;

namespace MeatLizard.Web.Tests.Support;

/// <summary>The app as a user sees it: the few gestures the tests repeat.</summary>
public sealed class ChatPage(IPage page, Uri baseAddress)
{
    public IPage Page { get; } = page;

    public ILocator Messages => Page.Locator("#messages");

    public ILocator Answers => Page.Locator("#messages article.msg.assistant:not(.streaming)");

    public ILocator Draft => Page.Locator("#messages article.streaming");

    public ILocator Banner => Page.Locator("#banner");

    public ILocator Input => Page.GetByLabel("Message", new() { Exact = true });

    public async Task OpenAsync(string path = "/") => await Page.GotoAsync(new Uri(baseAddress, path).ToString());

    public const string Password = "correct horse battery";

    /// <summary>
    /// Records, in <c>window.__drafts</c>, every distinct text the answer being written shows (trimmed). Run with
    /// Evaluate on the current page, or as an init script for the pages loaded after it.
    /// </summary>
    public const string RecordDraftsScript = @"(() => {
        if (window.__drafts) return;
        window.__drafts = [];
        new MutationObserver(() => {
            const body = document.querySelector('#messages article.streaming .body');
            const text = body ? body.textContent.trim() : '';
            if (text && window.__drafts[window.__drafts.length - 1] !== text) window.__drafts.push(text);
        }).observe(document, { subtree: true, childList: true, characterData: true });
    })()";

    public async Task<IReadOnlyList<string>> RecordedDraftsAsync() =>
        await Page.EvaluateAsync<string[]>("() => window.__drafts ?? []");

    /// <summary>
    /// Watches for <paramref name="marker"/> in the answer being written: <see cref="FirstPieceOnScreenAsync"/> then
    /// gives the draft's text and the wall-clock time (the page's <c>timeOrigin + now()</c>) of the frame after it
    /// entered the DOM, or after <paramref name="timeoutMs"/> a text saying it never did, and a time of 0.
    /// </summary>
    public async Task WatchFirstPieceAsync(string marker, int timeoutMs = 20_000) =>
        await Page.EvaluateAsync(@"([marker, timeoutMs]) => {
            window.__firstPieceOnScreen = new Promise(resolve => {
                setTimeout(() => resolve({ text: `no answer being written showed ${marker} in ${timeoutMs} ms`, painted: 0 }), timeoutMs);
                const observer = new MutationObserver(() => {
                    const draft = document.querySelector('#messages article.streaming .body');
                    if (draft && draft.textContent.includes(marker)) {
                        const text = draft.textContent;
                        observer.disconnect();
                        requestAnimationFrame(() => resolve({ text, painted: performance.timeOrigin + performance.now() }));
                    }
                });
                observer.observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
            });
        }", new object[] { marker, timeoutMs });

    /// <summary>What <see cref="WatchFirstPieceAsync"/> saw: the draft's text and when its frame was painted.</summary>
    public async Task<(string Text, double PaintedAt)> FirstPieceOnScreenAsync()
    {
        var shown = await Page.EvaluateAsync<System.Text.Json.JsonElement>("() => window.__firstPieceOnScreen");
        return (shown.GetProperty("text").GetString() ?? "", shown.GetProperty("painted").GetDouble());
    }

    /// <summary>
    /// Adds <paramref name="pairs"/> question/answer pairs ("question 1", …) to chat <paramref name="chatId"/> through
    /// the API, as this page's user (its cookie and CSRF token), each waiting for its answer.
    /// </summary>
    public async Task AddPairsAsync(string chatId, int pairs) =>
        await Page.EvaluateAsync(@"async ([id, pairs]) => {
            const token = document.cookie.split('; ').find(c => c.startsWith('meatlizard.csrf=')).split('=')[1];
            for (let i = 1; i <= pairs; i++) {
                const r = await fetch(`/api/v1/sessions/${id}/send?wait=true`, {
                    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token },
                    body: JSON.stringify({ content: `question ${i}` }) });
                if (!r.ok) throw new Error(`send ${i}: ${r.status}`);
            }
        }", new object[] { chatId, pairs });

    public async Task<string> RegisterAsync(string? username = null)
    {
        username ??= "u" + Guid.NewGuid().ToString("N")[..10];
        await OpenAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).First.ClickAsync();
        await Page.GetByLabel("Username").FillAsync(username);
        await Page.GetByLabel("Password").FillAsync(Password);
        await Page.Locator("#auth-submit").ClickAsync();
        // A sign-up is two PBKDF2 hashes (register, then sign in) on a host the test may have just started; in one
        // clean-clone CI run on 2 cores beside Chromium it took longer than Playwright's 5 s default, with the button
        // still waiting for the answer. Signing up is this helper's precondition, not what the tests judge.
        await Assertions.Expect(Page.Locator("#me-name")).ToHaveTextAsync(username, new() { Timeout = 15_000 });
        return username;
    }

    /// <summary>
    /// Fills the sign-in form already on the page and submits it (with <paramref name="button"/>, or the form's own submit
    /// button), then waits for the account's name, as long as <see cref="RegisterAsync"/> does and for the same reason.
    /// </summary>
    public async Task SignInAsync(string username, string password = Password, string? button = null)
    {
        await Page.GetByLabel("Username").FillAsync(username);
        await Page.GetByLabel("Password").FillAsync(password);
        await (button is null
            ? Page.Locator("#auth-submit")
            : Page.GetByRole(AriaRole.Button, new() { Name = button }).Last).ClickAsync();
        await Assertions.Expect(Page.Locator("#me-name")).ToHaveTextAsync(username, new() { Timeout = 15_000 });
    }

    public async Task SendAsync(string text)
    {
        await Input.FillAsync(text);
        await Input.PressAsync("Enter");
    }

    /// <summary>Waits until the number of finished answers on screen is <paramref name="count"/>.</summary>
    public async Task WaitForAnswersAsync(int count) =>
        await Assertions.Expect(Answers).ToHaveCountAsync(count, new() { Timeout = 20_000 });

    public async Task ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(Paths.Screenshots);
        var file = Path.Combine(Paths.Screenshots, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = file });
        TestContext.AddTestAttachment(file, name);
    }
}

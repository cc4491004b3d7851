using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>The account side of the journey: exports, API keys, signing out and in.</summary>
public sealed partial class ChatJourneyTests
{
    [Test]
    public async Task Export_DownloadsJsonAndCsv()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.SendAsync("export me");
        await chat.WaitForAnswersAsync(1);

        var json = await chat.Page.RunAndWaitForDownloadAsync(() => chat.Page.GetByRole(AriaRole.Link, new() { Name = "Export JSON" }).ClickAsync());
        var csv = await chat.Page.RunAndWaitForDownloadAsync(() => chat.Page.GetByRole(AriaRole.Link, new() { Name = "Export CSV" }).ClickAsync());

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(await json.PathAsync()));
        var contents = document.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString());
        Assert.That(contents, Is.EqualTo(new[] { "export me", "You said: export me" }));
        Assert.That(json.SuggestedFilename, Does.EndWith(".json"));
        var lines = await File.ReadAllLinesAsync(await csv.PathAsync());
        Assert.That(lines[0], Does.StartWith("id,createdAt,role,source,content"));
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(csv.SuggestedFilename, Does.EndWith(".csv"));
    }

    [Test]
    public async Task ApiKeys_CreateShownOnce_List_Revoke()
    {
        var chat = await NewPageAsync();
        await chat.RegisterAsync();

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByLabel("New key name").FillAsync("laptop script");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-created")).ToBeVisibleAsync();
        var key = await chat.Page.Locator("#key-value").InputValueAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("laptop script");

        Assert.That(key, Does.StartWith("ml_"));
        using var program = new HttpClient { BaseAddress = BaseAddress };
        program.DefaultRequestHeaders.Authorization = new("Bearer", key);
        Assert.That((await program.GetAsync("api/v1/sessions")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-created")).ToBeHiddenAsync(); // shown once
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Revoke key laptop script" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("No keys yet.");
        Assert.That((await program.GetAsync("api/v1/sessions")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ApiKeys_ARevokeWhileTheListStillLoads_IsNotUndoneByTheOlderList()
    {
        // Seen in CI: the reopened dialog's list, asked for before the revoke, answered after it and showed the revoked
        // key again. Here that list is held until the revoke has been shown.
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByLabel("New key name").FillAsync("slow list");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("slow list");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();

        var release = new TaskCompletionSource();
        var delivered = new TaskCompletionSource();
        var lists = 0;
        await chat.Page.RouteAsync("**/api/v1/auth/api-keys", async route =>
        {
            if (route.Request.Method != "GET" || Interlocked.Increment(ref lists) != 1)
            {
                await route.ContinueAsync();
                return;
            }

            var older = await route.FetchAsync(); // read before the revoke
            await release.Task;
            await route.FulfillAsync(new() { Response = older });
            delivered.SetResult();
        });
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "API keys" }).ClickAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Revoke key slow list" }).ClickAsync();
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("No keys yet.");

        release.SetResult();
        await delivered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The page's handler of the older list runs within moments of its delivery.
        await chat.Page.EvaluateAsync("() => new Promise(resolve => setTimeout(resolve, 300))");
        await Expect(chat.Page.Locator("#key-list")).ToContainTextAsync("No keys yet.");
        await Expect(chat.Page.Locator("#key-list")).Not.ToContainTextAsync("slow list");
    }

    [Test]
    public async Task Logout_EndsTheSession_AlsoAfterAReload_AndSigningInBringsTheChatsBack()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        await chat.SendAsync("remember me");
        await chat.WaitForAnswersAsync(1);

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(chat.Page.Locator("#auth")).ToBeVisibleAsync();
        await chat.Page.ReloadAsync();

        await Expect(chat.Page.Locator("#auth")).ToBeVisibleAsync();
        await Expect(chat.Page.Locator("#app")).ToBeHiddenAsync();
        var cookies = await chat.Page.Context.CookiesAsync();
        Assert.That(cookies.Any(c => c.Name == "meatlizard.session"), Is.False);

        await chat.Page.GetByLabel("Username").FillAsync(username);
        await chat.Page.GetByLabel("Password").FillAsync(ChatPage.Password);
        await chat.Page.Locator("#password").PressAsync("Enter");
        await Expect(chat.Page.Locator("#me-name")).ToHaveTextAsync(username);
        await Expect(chat.Page.Locator("#chat-list .chat-open")).ToHaveTextAsync(["remember me"]);
    }

    [Test]
    public async Task WrongPassword_SaysSoInWords()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await chat.Page.GetByLabel("Username").FillAsync(username);
        await chat.Page.GetByLabel("Password").FillAsync("not the password");
        await chat.Page.Locator("#auth-submit").ClickAsync();

        await Expect(chat.Page.Locator("#auth-error")).ToHaveTextAsync("That username and password do not match.");
    }
}

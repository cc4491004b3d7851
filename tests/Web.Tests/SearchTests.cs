using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// The sidebar's search box finds a word said long ago in an older chat and opens that chat at the message, older
/// pages loaded to reach it; on both storages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class SearchTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    // The old chat is filled through the API, more messages than a page holds; no limit stands in the way.
    protected override IDictionary<string, string?> HostSettings => new Dictionary<string, string?>
    {
        ["RateLimits:PerUserPerMinute"] = "0",
        ["RateLimits:PerIpPerMinute"] = "0",
    };

    [Test]
    public async Task AWordFromAnOldChat_IsFound_AndOpensThatChatAtTheMessage()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        using var api = Host.NewClient();
        await api.SignInAsync(username, ChatPage.Password);
        var old = await api.CreateSessionAsync(new { title = "Garden planning" });
        await SendAsync(api, old, "Where should the quokka sleep tonight?");
        for (var i = 0; i < 30; i++)
        {
            await SendAsync(api, old, $"filler question {i}");
        }

        var recent = await api.CreateSessionAsync(new { title = "Recent chat" });
        await SendAsync(api, recent, "something else entirely");
        await chat.Page.ReloadAsync();
        await Expect(chat.Page.Locator("#chat-list .chat-open").First).ToHaveTextAsync("Recent chat");

        await chat.Page.GetByLabel("Search chats and messages").FillAsync("QUOKKA");

        var hit = chat.Page.Locator("#search-results .search-hit").First;
        await Expect(hit).ToContainTextAsync("Garden planning");
        await Expect(hit.Locator("mark").First).ToHaveTextAsync("quokka");
        await hit.ClickAsync();

        await Expect(chat.Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/c/{old}$"));
        var found = chat.Page.Locator("#messages article.msg.found");
        await Expect(found).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Expect(found).ToContainTextAsync("Where should the quokka sleep tonight?");
        await Expect(found).ToBeInViewportAsync();
        await Expect(chat.Page.Locator("#chat-title")).ToHaveTextAsync("Garden planning");
    }

    [Test]
    public async Task AWordFromAnEarlierVersion_IsFound_AndOpensTheChatSwitchedToThatVersion()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        using var api = Host.NewClient();
        await api.SignInAsync(username, ChatPage.Password);
        var id = await api.CreateSessionAsync(new { title = "Pet names" });
        await SendAsync(api, id, "Name my wombat");
        await SendAsync(api, id, "Or call the axolotl something");
        var messages = (await ApiClient.ReadAsync(await api.GetAsync($"api/v1/sessions/{id}/messages"))).GetProperty("messages");
        var second = messages[2].GetProperty("id").GetGuid();
        (await api.PostAsync($"api/v1/sessions/{id}/messages/{second}/edit?wait=true", new { content = "Or call the newt something" }))
            .EnsureSuccessStatusCode();
        await chat.Page.ReloadAsync();

        await chat.Page.GetByLabel("Search chats and messages").FillAsync("axolotl");
        var hit = chat.Page.Locator($"#search-results .search-hit[data-message='{second}']");
        await hit.ClickAsync();

        var found = chat.Page.Locator("#messages article.msg.found");
        await Expect(found).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Expect(found).ToContainTextAsync("Or call the axolotl something");
        await Expect(chat.Page.Locator("#messages")).Not.ToContainTextAsync("newt");
    }

    [Test]
    public async Task WordsTypedIntoTheSearchBox_WhileTheChatsLoad_StayThere_AndAreSearched()
    {
        var chat = await NewPageAsync();
        var username = await chat.RegisterAsync();
        using var api = Host.NewClient();
        await api.SignInAsync(username, ChatPage.Password);
        var id = await api.CreateSessionAsync(new { title = "Capybara care" });
        await SendAsync(api, id, "Name my capybara");

        // The chat list is held until the search box has the words: the app is shown, its chats still on their way.
        var typed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await chat.Page.RouteAsync("**/api/v1/sessions", async route =>
        {
            await typed.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await route.ContinueAsync();
        });
        await chat.Page.ReloadAsync(new() { WaitUntil = WaitUntilState.DOMContentLoaded });
        var search = chat.Page.GetByLabel("Search chats and messages");
        await search.FillAsync("capy");
        typed.SetResult();
        // The list filtered by the words typed: the chats came, and the app finished opening.
        await Expect(chat.Page.Locator("#chat-list .chat-open").First).ToHaveTextAsync("Capybara care");

        // Typed on where the keys go: still the search box.
        await chat.Page.Keyboard.TypeAsync("bara");
        await Expect(search).ToBeFocusedAsync();
        await Expect(search).ToHaveValueAsync("capybara");
        await Expect(chat.Input).ToHaveValueAsync("");
        await Expect(chat.Page.Locator("#search-results .search-hit[data-message]").First).ToContainTextAsync("Name my capybara");
    }

    private static async Task SendAsync(ApiClient api, Guid chat, string content) =>
        (await api.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content })).EnsureSuccessStatusCode();
}

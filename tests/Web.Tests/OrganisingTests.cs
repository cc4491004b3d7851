using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Keeping chats in order in the sidebar: a pinned chat goes to the top, a chat moves into a folder, an archived chat
/// leaves the list for the Archived filter, and two chats are deleted at once after a confirmation; on both storages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class OrganisingTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task PinFolderArchiveAndBulkDelete_ReshapeTheChatList()
    {
        var chat = await NewPageAsync();
        var page = chat.Page;
        await chat.RegisterAsync();
        foreach (var (question, answers) in new[] { ("alpha question", 1), ("beta question", 1), ("gamma question", 1) })
        {
            if (question != "alpha question")
            {
                await page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
            }

            await chat.SendAsync(question);
            await chat.WaitForAnswersAsync(answers);
        }

        var titles = page.Locator("#chat-list .chat-open");
        await Expect(titles).ToHaveTextAsync(["gamma question", "beta question", "alpha question"]);

        await page.GetByRole(AriaRole.Button, new() { Name = "Pin chat alpha question" }).ClickAsync();
        await Expect(titles).ToHaveTextAsync(["alpha question", "gamma question", "beta question"]);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Unpin chat alpha question" }))
            .ToHaveAttributeAsync("aria-pressed", "true");

        await page.GetByRole(AriaRole.Button, new() { Name = "Move chat beta question to a folder" }).ClickAsync();
        await page.GetByLabel("Or a new folder").FillAsync("Work");
        await page.GetByRole(AriaRole.Button, new() { Name = "Move", Exact = true }).ClickAsync();
        await Expect(page.Locator("#chat-list li.folder")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("Work"));
        await Expect(page.Locator("#chat-list li.folder + li .chat-open")).ToHaveTextAsync("beta question");

        var gamma = await page.Locator("#chat-list .chat-open", new() { HasText = "gamma question" }).GetAttributeAsync("data-chat");
        await page.GetByRole(AriaRole.Button, new() { Name = "Archive chat gamma question" }).ClickAsync();
        await Expect(titles).ToHaveTextAsync(["alpha question", "beta question"]);
        await chat.OpenAsync($"/c/{gamma}");
        await Expect(page.Locator("#chat-title")).ToHaveTextAsync("gamma question", new() { Timeout = 10_000 });
        await Expect(titles).ToHaveTextAsync(["alpha question", "beta question"]); // opened by its address, still archived
        await page.GetByLabel("Archived", new() { Exact = true }).CheckAsync();
        await Expect(titles).ToHaveTextAsync(["gamma question"]);
        await page.GetByLabel("Archived", new() { Exact = true }).UncheckAsync();
        await Expect(titles).ToHaveTextAsync(["alpha question", "beta question"]);

        string? asked = null;
        page.Dialog += async (_, dialog) =>
        {
            asked = dialog.Message;
            await dialog.AcceptAsync();
        };
        await page.GetByRole(AriaRole.Button, new() { Name = "Select", Exact = true }).ClickAsync();
        await page.GetByLabel("Select chat alpha question").CheckAsync();
        await page.GetByLabel("Select chat beta question").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete selected (2)" }).ClickAsync();
        await Expect(titles).ToHaveCountAsync(0);
        Assert.That(asked, Does.Contain("Delete 2 chat"));
        await page.GetByLabel("Archived", new() { Exact = true }).CheckAsync();
        await Expect(titles).ToHaveTextAsync(["gamma question"]);
    }

    [Test]
    public async Task TheChatList_IsDrawn_WhenItsFoldersCannotBeRead()
    {
        var chat = await NewPageAsync();
        var page = chat.Page;
        await chat.RegisterAsync();
        await chat.SendAsync("first question");
        await chat.WaitForAnswersAsync(1);
        await page.RouteAsync("**/api/v1/folders", route => route.FulfillAsync(new() { Status = 503 }));

        await page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
        await chat.SendAsync("second question");
        await chat.WaitForAnswersAsync(1);

        await Expect(page.Locator("#chat-list .chat-open")).ToHaveTextAsync(["second question", "first question"]);
    }
}

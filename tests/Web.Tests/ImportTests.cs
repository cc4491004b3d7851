using System.Text;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Importing a ChatGPT export in the web app: the file is picked from the sidebar, the report says what came in and what
/// was left out, and the imported chat keeps its edited question's two versions, switched with "‹ 1/2 ›"; on both
/// storages.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ImportTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    [Test]
    public async Task AChatGptExport_ImportsWithItsBranches_AndItsVersionsSwitch()
    {
        var chat = await NewPageAsync();
        var page = chat.Page;
        await chat.RegisterAsync();

        var chooser = await page.RunAndWaitForFileChooserAsync(() =>
            page.GetByRole(AriaRole.Button, new() { Name = "Import chats" }).ClickAsync());
        await chooser.SetFilesAsync(new FilePayload
        {
            Name = "conversations.json", MimeType = "application/json", Buffer = Encoding.UTF8.GetBytes(ChatGptExportSample.Json()),
        });

        var dialog = page.Locator("#import-dialog");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.Locator("#import-summary")).ToHaveTextAsync("1 imported, 0 skipped, 0 failed.");
        await Expect(dialog.Locator("#import-report li")).ToContainTextAsync($"{ChatGptExportSample.Title}: imported");
        await Expect(dialog.Locator("#import-report li")).ToContainTextAsync("1 image part skipped");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();

        await page.Locator("#chat-list .chat-open", new() { HasText = ChatGptExportSample.Title }).ClickAsync();
        var shown = page.Locator("#messages article.msg");
        var question = page.Locator("#messages article.msg.user").First;
        await Expect(shown).ToHaveCountAsync(2);
        await Expect(question).ToContainTextAsync(ChatGptExportSample.NewerQuestion);
        await Expect(chat.Answers.Last).ToContainTextAsync(ChatGptExportSample.NewerAnswer);
        await Expect(question.Locator(".version-count")).ToHaveTextAsync("2/2");

        await question.GetByRole(AriaRole.Button, new() { Name = "Previous version" }).ClickAsync();
        await Expect(question.Locator(".version-count")).ToHaveTextAsync("1/2");
        await Expect(question).ToContainTextAsync(ChatGptExportSample.OlderQuestion);
        await Expect(chat.Answers.Last).ToContainTextAsync(ChatGptExportSample.OlderAnswer);

        await question.GetByRole(AriaRole.Button, new() { Name = "Next version" }).ClickAsync();
        await Expect(question.Locator(".version-count")).ToHaveTextAsync("2/2");
        await Expect(chat.Answers.Last).ToContainTextAsync(ChatGptExportSample.NewerAnswer);

        // The same file again: skipped, nothing doubled.
        await page.Locator("#import-file").SetInputFilesAsync(new FilePayload
        {
            Name = "conversations.json", MimeType = "application/json", Buffer = Encoding.UTF8.GetBytes(ChatGptExportSample.Json()),
        });
        await Expect(dialog.Locator("#import-summary")).ToHaveTextAsync("0 imported, 1 skipped, 0 failed.");
        await Expect(page.Locator("#chat-list .chat-open")).ToHaveCountAsync(1);
    }
}

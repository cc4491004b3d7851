using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Web.Tests.Support;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MeatLizard.Web.Tests;

/// <summary>
/// Images in the web app, on both storages: picked with the file picker, pasted into the message box or dropped on the
/// chat, shown as thumbnails that can be removed before sending, sent with the message to the model host as their exact bytes, shown
/// in the chat (loaded from the images endpoint with the user's sign-in) and kept in the chat's export.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ImagesTests(string storage) : BrowserFixture
{
    protected override string Storage => storage;

    /// <summary>
    /// Pastes or drops a file as a browser does: a paste event whose clipboard holds it on the message box, or a drop
    /// event carrying it on the conversation.
    /// </summary>
    private const string GiveScript = @"([how, name, type, base64]) => {
        const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, { type }));
        const event = how === 'paste'
            ? new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })
            : new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true });
        document.getElementById(how === 'paste' ? 'input' : 'messages').dispatchEvent(event);
    }";

    [TearDown]
    public async Task NoImagesTaken() => await Host.TakeImagesAsync(false);

    [Test]
    public async Task ImagesPickedPastedAndDropped_ShowAsThumbnails_ReachTheHost_AndShowInTheChatAndItsExport()
    {
        await Host.TakeImagesAsync(true);
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        var thumbnails = chat.Page.Locator("#attachments img");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Attach images" }).WaitForAsync();
        await chat.Page.Locator("#attach-file").SetInputFilesAsync(new FilePayload
        {
            Name = "dot.gif", MimeType = "image/gif", Buffer = TestImages.Gif,
        });
        await Expect(thumbnails).ToHaveCountAsync(1);
        await chat.Page.EvaluateAsync(GiveScript, new[] { "paste", "pasted.png", "image/png", Convert.ToBase64String(TestImages.Png) });
        await Expect(thumbnails).ToHaveCountAsync(2);
        await chat.Page.EvaluateAsync(GiveScript, new[] { "drop", "not-this.jpg", "image/jpeg", Convert.ToBase64String(TestImages.Jpeg) });
        await Expect(thumbnails).ToHaveCountAsync(3);
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Remove image 3" }).ClickAsync();
        await Expect(thumbnails).ToHaveCountAsync(2);

        await chat.SendAsync("What are these?");
        await chat.WaitForAnswersAsync(1);

        await Expect(thumbnails).ToHaveCountAsync(0);
        var asked = Engine.Requests[^1].Turns[^1];
        Assert.That(asked.Content, Is.EqualTo("What are these?"));
        Assert.That(asked.Images!.Select(i => (i.MediaType, Bytes(i.DataUrl!))),
            Is.EqualTo(new[] { ("image/gif", TestImages.Gif), ("image/png", TestImages.Png) }),
            "the host got the picked and the pasted image, as their exact bytes, and not the removed one");

        var shown = chat.Messages.Locator("article.msg.user .images img");
        await Expect(shown).ToHaveCountAsync(2);
        await Expect(shown.First).ToHaveAttributeAsync("alt", "Image 1 of 2");
        foreach (var image in await shown.AllAsync())
        {
            // Loaded: the images endpoint served them with the user's sign-in.
            await Expect(image).ToHaveJSPropertyAsync("naturalWidth", 1);
        }

        await chat.ScreenshotAsync("images-in-chat");
        var exported = await chat.Page.EvaluateAsync<JsonElement>(
            "async () => (await fetch(document.getElementById('export-json').href)).json()");
        var images = exported.GetProperty("messages").EnumerateArray()
            .Single(m => m.GetProperty("role").GetString() == "user").GetProperty("images");
        Assert.That(images.EnumerateArray().Select(i => Bytes(i.GetProperty("dataUrl").GetString()!)),
            Is.EqualTo(new[] { TestImages.Gif, TestImages.Png }), "the export holds the images");
    }

    [Test]
    public async Task AnEdit_WithImagesAttached_ReplacesTheQuestionsImages_AndWithoutKeepsThem()
    {
        await Host.TakeImagesAsync(true);
        var chat = await NewPageAsync();
        await chat.RegisterAsync();
        await chat.Page.Locator("#attach-file").SetInputFilesAsync(new FilePayload
        {
            Name = "dot.gif", MimeType = "image/gif", Buffer = TestImages.Gif,
        });
        Engine.Reply = r => $"About {r.Turns[^1].Content}";
        await chat.SendAsync("What is this?");
        await chat.WaitForAnswersAsync(1);
        var edit = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Edit" });

        await edit.ClickAsync();
        await chat.Page.Locator("#attach-file").SetInputFilesAsync(new FilePayload
        {
            Name = "other.png", MimeType = "image/png", Buffer = TestImages.Png,
        });
        await chat.Input.FillAsync("And this?");
        await chat.Input.PressAsync("Enter");
        await Expect(chat.Answers.Last).ToContainTextAsync("About And this?");
        var replaced = Engine.Requests[^1].Turns[^1];
        await edit.ClickAsync();
        await chat.Input.FillAsync("Once more?");
        await chat.Input.PressAsync("Enter");
        await Expect(chat.Answers.Last).ToContainTextAsync("About Once more?");
        var kept = Engine.Requests[^1].Turns[^1];

        Assert.That(replaced.Content, Is.EqualTo("And this?"));
        Assert.That(replaced.Images!.Select(i => Bytes(i.DataUrl!)), Is.EqualTo(new[] { TestImages.Png }),
            "the image attached to the edit replaced the question's");
        Assert.That(kept.Content, Is.EqualTo("Once more?"));
        Assert.That(kept.Images!.Select(i => Bytes(i.DataUrl!)), Is.EqualTo(new[] { TestImages.Png }),
            "an edit with nothing attached keeps the question's images");
        await Expect(chat.Messages.Locator("article.msg.user .images img")).ToHaveCountAsync(1);
    }

    private static byte[] Bytes(string dataUrl) => Convert.FromBase64String(dataUrl[(dataUrl.IndexOf(',') + 1)..]);
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Imports (issue 40): a ChatGPT export and MeatLizard's own become chats with their branches, each conversation on
/// its own, the same file twice is safe, and a file too large or not an export is refused naming the file.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ImportApiTests(string storage) : ApiHostFixture(storage)
{
    private const int MaxBytes = 1024 * 1024;

    protected override IDictionary<string, string?> Settings =>
        new Dictionary<string, string?> { ["Imports:MaxBytes"] = MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    [Test]
    public async Task AChatGptExport_BecomesAChatWithBothVersions_AndImportingItAgainSkipsIt()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();

        var report = await ImportAsync(owner, ChatGptExportSample.Json());

        Assert.That(report.GetProperty("format").GetString(), Is.EqualTo("chatgpt"));
        Assert.That((report.GetProperty("imported").GetInt32(), report.GetProperty("skipped").GetInt32()), Is.EqualTo((1, 0)));
        var entry = report.GetProperty("conversations")[0];
        Assert.That(entry.GetProperty("outcome").GetString(), Is.EqualTo("imported"));
        Assert.That((entry.GetProperty("messages").GetInt32(), entry.GetProperty("versions").GetInt32()), Is.EqualTo((4, 2)));
        Assert.That(entry.GetProperty("notes").EnumerateArray().Select(n => n.GetString()),
            Is.EquivalentTo(new[] { "1 system message skipped", "1 image part skipped" }));
        var chat = entry.GetProperty("chatId").GetGuid();

        var chats = (await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).EnumerateArray().ToList();
        Assert.That(chats.Select(c => c.GetProperty("title").GetString()), Is.EqualTo(new[] { ChatGptExportSample.Title }));
        Assert.That(chats[0].GetProperty("createdAt").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_710_000_000)));
        var page = await PageAsync(owner, chat);
        Assert.That(page.Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { ChatGptExportSample.NewerQuestion, ChatGptExportSample.NewerAnswer }), "the current path");
        Assert.That((page[0].GetProperty("siblingIndex").GetInt32(), page[0].GetProperty("siblingCount").GetInt32()), Is.EqualTo((1, 2)));
        Assert.That(page[1].GetProperty("createdAt").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_710_000_400)));

        var older = page[0].GetProperty("siblingIds")[0].GetGuid();
        var switched = (await ApiClient.ReadAsync(await owner.PostAsync($"api/v1/sessions/{chat}/messages/{older}/select", null)))
            .GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString());
        Assert.That(switched, Is.EqualTo(new[] { ChatGptExportSample.OlderQuestion, ChatGptExportSample.OlderAnswer }));

        var again = await ImportAsync(owner, ChatGptExportSample.Json());
        Assert.That((again.GetProperty("imported").GetInt32(), again.GetProperty("skipped").GetInt32()), Is.EqualTo((0, 1)));
        Assert.That(again.GetProperty("conversations")[0].GetProperty("reason").GetString(), Does.Contain("Imported before"));
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1));

        using var other = Host.NewClient();
        await other.SignUpAsync();
        Assert.That((await ImportAsync(other, ChatGptExportSample.Json())).GetProperty("imported").GetInt32(), Is.EqualTo(1),
            "another user's import is theirs");
    }

    [Test]
    public async Task AFileLargerThanAnOrdinaryRequest_IsTakenUpToTheImportCap()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        // Above the 256 KiB every other request is held to, below Imports:MaxBytes: JSON's white space makes it so.
        var file = ChatGptExportSample.Json().Replace("\"title\"", new string(' ', 300 * 1024) + "\"title\"");

        var report = await ImportAsync(owner, file);

        Assert.That(report.GetProperty("imported").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task ABadConversation_FailsAlone_AndTheOthersComeIn()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var good = ChatGptExportSample.Json("good-1").Trim();
        var tooLong = ChatGptExportSample.Json("long-1").Trim().Replace(ChatGptExportSample.OlderQuestion, new string('x', 16_001));
        var file = $"[{good[1..^1]}, {{\"title\": \"no tree\", \"mapping\": null}}, {tooLong[1..^1]}]";

        var report = await ImportAsync(owner, file);

        Assert.That((report.GetProperty("imported").GetInt32(), report.GetProperty("failed").GetInt32()), Is.EqualTo((1, 2)));
        var entries = report.GetProperty("conversations").EnumerateArray().ToList();
        Assert.That(entries.Select(e => e.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "imported", "failed", "failed" }));
        Assert.That(entries[1].GetProperty("reason").GetString(), Does.Contain("mapping"));
        Assert.That(entries[2].GetProperty("reason").GetString(), Does.Contain("16000").Or.Contain("16,000"), "a question too long");
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1),
            "nothing of the failed ones was kept");
    }

    [Test]
    public async Task AFileTooLarge_Is413NamingFile_AndOneThatIsNoExport_Is400NamingFile()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();

        var large = await PostFileAsync(owner, "[" + new string(' ', MaxBytes) + "]");
        var notJson = await PostFileAsync(owner, "conversations, but not JSON");
        var other = await PostFileAsync(owner, "{\"hello\": \"world\"}");
        using var stranger = Host.NewClient();
        var signedOut = await PostFileAsync(stranger, ChatGptExportSample.Json());

        Assert.That(large.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        foreach (var refused in new[] { large, notJson, other })
        {
            Assert.That((await ApiClient.ReadAsync(refused)).GetProperty("errors").TryGetProperty("file", out _), Is.True);
        }

        Assert.That((notJson.StatusCode, other.StatusCode), Is.EqualTo((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest)));
        Assert.That(signedOut.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task AFileWithTextThatIsNotUnicode_Is400NamingFileAndWhere_AndImportsNothing()
    {
        // A lone surrogate escaped in a question: read only when the conversation was imported, it was a 500.
        using var owner = Host.NewClient();
        await owner.SignUpAsync();

        var response = await PostFileAsync(owner, ChatGptExportSample.Json().Replace(ChatGptExportSample.NewerQuestion, "\\udc00"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var said = (await ApiClient.ReadAsync(response)).GetProperty("errors").GetProperty("file")[0].GetString();
        Assert.That(said, Does.Contain("not valid Unicode").And.Contain("[0].mapping.n-q2.message.content.parts[0]"));
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task AMeatLizardTranscriptOfTheWholeTree_ComesBackWithItsVersions()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync(new { title = "Round trip" });
        (await owner.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "hello there" })).EnsureSuccessStatusCode();
        (await owner.PostAsync($"api/v1/sessions/{chat}/regenerate?wait=true", null)).EnsureSuccessStatusCode();
        var transcript = await (await owner.GetAsync($"api/v1/sessions/{chat}/transcript?all=true")).Content.ReadAsStringAsync();
        using var other = Host.NewClient();
        await other.SignUpAsync();

        var report = await ImportAsync(other, transcript);

        Assert.That(report.GetProperty("format").GetString(), Is.EqualTo("meatlizard"));
        var entry = report.GetProperty("conversations")[0];
        Assert.That((entry.GetProperty("title").GetString(), entry.GetProperty("messages").GetInt32(), entry.GetProperty("versions").GetInt32()),
            Is.EqualTo(("Round trip", 3, 1)));
        var page = await PageAsync(other, entry.GetProperty("chatId").GetGuid());
        Assert.That(page.Select(m => m.GetProperty("role").GetString()), Is.EqualTo(new[] { "user", "assistant" }));
        Assert.That((page[1].GetProperty("siblingIndex").GetInt32(), page[1].GetProperty("siblingCount").GetInt32()), Is.EqualTo((1, 2)),
            "the regenerated answer is shown, the earlier one kept beside it");
        Assert.That((await ImportAsync(other, transcript)).GetProperty("skipped").GetInt32(), Is.EqualTo(1));
    }

    private static async Task<HttpResponseMessage> PostFileAsync(ApiClient client, string file)
    {
        using var content = new StringContent(file, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await client.Http.PostAsync("api/v1/imports", content);
    }

    private static async Task<JsonElement> ImportAsync(ApiClient client, string file)
    {
        var response = await PostFileAsync(client, file);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }

    private static async Task<List<JsonElement>> PageAsync(ApiClient client, Guid id) =>
        (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages")))
        .GetProperty("messages").EnumerateArray().ToList();
}

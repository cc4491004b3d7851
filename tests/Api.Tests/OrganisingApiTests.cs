using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>Organising chats (issue 40): pins, folders, the archive and deleting several at once, by their owner only.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class OrganisingApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task APinnedChat_ComesFirst_AndReadingOrSwitchingAChat_DoesNotMoveIt()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var old = await owner.CreateSessionAsync(new { title = "old" });
        await SendAsync(owner, old, "first");
        (await owner.PostAsync($"api/v1/sessions/{old}/regenerate?wait=true", null)).EnsureSuccessStatusCode();
        var middle = await owner.CreateSessionAsync(new { title = "middle" });
        await SendAsync(owner, middle, "second");
        var newest = await owner.CreateSessionAsync(new { title = "newest" });
        await SendAsync(owner, newest, "third");
        Assert.That(await TitlesAsync(owner), Is.EqualTo(new[] { "newest", "middle", "old" }));

        // Switching the old chat back to its first answer, reading it and renaming it leave it last.
        var answer = (await PageAsync(owner, old))[1];
        var otherVersion = answer.GetProperty("siblingIds").EnumerateArray().Select(e => e.GetGuid())
            .First(id => id != answer.GetProperty("id").GetGuid());
        (await owner.PostAsync($"api/v1/sessions/{old}/messages/{otherVersion}/select", null)).EnsureSuccessStatusCode();
        await owner.GetAsync($"api/v1/sessions/{old}");
        Assert.That(await TitlesAsync(owner), Is.EqualTo(new[] { "newest", "middle", "old" }), "switching versions is not using the chat");

        var pin = await owner.PutAsync($"api/v1/sessions/{old}/pin", new { pinned = true });

        Assert.That(pin.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        var list = await ListAsync(owner);
        Assert.That(list.Select(c => c.GetProperty("title").GetString()), Is.EqualTo(new[] { "old", "newest", "middle" }));
        Assert.That(list[0].GetProperty("pinned").GetBoolean(), Is.True);
        (await owner.PutAsync($"api/v1/sessions/{old}/pin", new { pinned = false })).EnsureSuccessStatusCode();
        Assert.That(await TitlesAsync(owner), Is.EqualTo(new[] { "newest", "middle", "old" }), "unpinned, back in its place");
    }

    [Test]
    public async Task Folders_HoldChats_AreRenamed_AndDeletingOneKeepsItsChats()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync(new { title = "in a folder" });
        var created = await owner.PostAsync("api/v1/folders", new { name = "Work" });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var folder = (await ApiClient.ReadAsync(created)).GetProperty("id").GetGuid();

        (await owner.PutAsync($"api/v1/sessions/{chat}/folder", new { folderId = folder })).EnsureSuccessStatusCode();
        Assert.That((await ListAsync(owner))[0].GetProperty("folderId").GetGuid(), Is.EqualTo(folder));
        var renamed = await ApiClient.ReadAsync(await owner.PatchAsync($"api/v1/folders/{folder}", new { name = "Job" }));
        Assert.That((renamed.GetProperty("name").GetString(), renamed.GetProperty("chats").GetInt32()), Is.EqualTo(("Job", 1)));
        var duplicate = await owner.PostAsync("api/v1/folders", new { name = "job" });
        var blank = await owner.PostAsync("api/v1/folders", new { name = " " });

        Assert.That(duplicate.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ReadAsync(duplicate)).GetProperty("errors").TryGetProperty("name", out _), Is.True);
        Assert.That(blank.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(blank)).GetProperty("errors").TryGetProperty("name", out _), Is.True);

        Assert.That((await owner.DeleteAsync($"api/v1/folders/{folder}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        var chats = await ListAsync(owner);
        Assert.That(chats.Select(c => c.GetProperty("title").GetString()), Is.EqualTo(new[] { "in a folder" }), "the chat stays");
        Assert.That(chats[0].TryGetProperty("folderId", out var folderId) ? folderId.ValueKind : JsonValueKind.Null,
            Is.EqualTo(JsonValueKind.Null), "in no folder");
        Assert.That((await ApiClient.ReadAsync(await owner.GetAsync("api/v1/folders"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task AnArchivedChat_LeavesTheList_IsListedUnderArchived_AndComesBack()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var kept = await owner.CreateSessionAsync(new { title = "kept" });
        var archived = await owner.CreateSessionAsync(new { title = "put away" });

        (await owner.PutAsync($"api/v1/sessions/{archived}/archive", new { archived = true })).EnsureSuccessStatusCode();

        Assert.That(await TitlesAsync(owner), Is.EqualTo(new[] { "kept" }));
        var archive = await ListAsync(owner, "?archived=true");
        Assert.That(archive.Select(c => (c.GetProperty("title").GetString(), c.GetProperty("archived").GetBoolean())),
            Is.EqualTo(new[] { ("put away", true) }));
        Assert.That((await owner.GetAsync($"api/v1/sessions/{archived}")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "kept");
        (await owner.PutAsync($"api/v1/sessions/{archived}/archive", new { archived = false })).EnsureSuccessStatusCode();
        Assert.That(await TitlesAsync(owner), Is.EquivalentTo(new[] { "kept", "put away" }));
        Assert.That(kept, Is.Not.EqualTo(Guid.Empty));
    }

    [Test]
    public async Task BulkDelete_RemovesTheChatsAndTheirStoredTranscripts_AndIsAllOrNone()
    {
        using var owner = Host.NewClient();
        var ownerName = await owner.SignUpAsync();
        var one = await owner.CreateSessionAsync(new { title = "one" });
        await SendAsync(owner, one, "to be deleted");
        var stored = await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{one}/transcript?store=true"));
        (await owner.PostAsync($"api/v1/sessions/{one}/share", new { })).EnsureSuccessStatusCode();
        var answer = (await PageAsync(owner, one))[1].GetProperty("id").GetGuid();
        (await owner.PutAsync($"api/v1/sessions/{one}/messages/{answer}/feedback", new { rating = "up" })).EnsureSuccessStatusCode();
        var two = await owner.CreateSessionAsync(new { title = "two" });
        var stays = await owner.CreateSessionAsync(new { title = "stays" });
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var theirs = await other.CreateSessionAsync(new { title = "theirs" });

        var mixed = await owner.PostAsync("api/v1/sessions/delete", new { ids = new[] { one, theirs } });
        var none = await owner.PostAsync("api/v1/sessions/delete", new { ids = Array.Empty<Guid>() });
        Assert.That(mixed.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(mixed)).GetProperty("errors").TryGetProperty("ids", out _), Is.True);
        Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(none)).GetProperty("errors").TryGetProperty("ids", out _), Is.True);
        Assert.That(await TitlesAsync(owner), Is.EquivalentTo(new[] { "one", "two", "stays" }), "all or none");

        var deleted = await owner.PostAsync("api/v1/sessions/delete", new { ids = new[] { one, two } });

        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await ApiClient.ReadAsync(deleted)).GetProperty("deleted").EnumerateArray().Select(e => e.GetGuid()),
            Is.EquivalentTo(new[] { one, two }));
        Assert.That(await TitlesAsync(owner), Is.EqualTo(new[] { "stays" }));
        Assert.That((await owner.GetAsync($"api/v1/sessions/{one}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await TitlesAsync(other), Is.EqualTo(new[] { "theirs" }));
        var objects = Host.Services.GetRequiredService<IObjectStore>();
        var left = new List<string>();
        await foreach (var key in objects.ListAsync(stored.GetProperty("jsonKey").GetString()!, CancellationToken.None))
        {
            left.Add(key);
        }

        Assert.That(left, Is.Empty, "the stored transcript went with the chat");
        Assert.That(await UserRowsProbe.LeftoversAsync(Host, Guid.NewGuid(), [one, two]), Is.Empty,
            "no row names a deleted chat: messages, share link, feedback, erased-chat note");
        Assert.That(ownerName, Is.Not.Empty);
        Assert.That(stays, Is.Not.EqualTo(Guid.Empty));
    }

    [Test]
    public async Task AnotherUsersChat_Is404_ForPinArchiveAndFolder()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        var folder = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/folders", new { name = "Mine" }))).GetProperty("id").GetGuid();
        using var other = Host.NewClient();
        await other.SignUpAsync();
        var theirs = await other.CreateSessionAsync();

        Assert.That((await other.PutAsync($"api/v1/sessions/{chat}/pin", new { pinned = true })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await other.PutAsync($"api/v1/sessions/{chat}/archive", new { archived = true })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var intoMine = await other.PutAsync($"api/v1/sessions/{theirs}/folder", new { folderId = folder });
        Assert.That(intoMine.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(intoMine)).GetProperty("errors").TryGetProperty("folderId", out _), Is.True);
        Assert.That((await other.PatchAsync($"api/v1/folders/{folder}", new { name = "x" })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await other.DeleteAsync($"api/v1/folders/{folder}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ListAsync(owner))[0].GetProperty("pinned").GetBoolean(), Is.False);
    }

    private static async Task SendAsync(ApiClient client, Guid chat, string content) =>
        (await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content })).EnsureSuccessStatusCode();

    private static async Task<List<JsonElement>> PageAsync(ApiClient client, Guid id) =>
        (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{id}/messages")))
        .GetProperty("messages").EnumerateArray().ToList();

    private static async Task<List<JsonElement>> ListAsync(ApiClient client, string query = "") =>
        (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions{query}"))).EnumerateArray().ToList();

    private static async Task<string?[]> TitlesAsync(ApiClient client) =>
        (await ListAsync(client)).Select(c => c.GetProperty("title").GetString()).ToArray();
}

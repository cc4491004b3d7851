using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>Share links: a read-only copy of a chat up to a message, read signed out, revocable by its owner alone.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ShareLinkApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task ALink_IsReadSignedOut_AndNeverShowsWhatCameAfterIt()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync(new { title = "Shared trip" });
        await SendAsync(owner, chat, "first question");
        var link = await ShareAsync(owner, chat, null);

        await SendAsync(owner, chat, "asked after sharing");
        (await owner.PatchAsync($"api/v1/sessions/{chat}", new { title = "Renamed later" })).EnsureSuccessStatusCode();
        using var stranger = Host.NewClient();
        var shared = await ApiClient.ReadAsync(await stranger.GetAsync($"api/v1/shared/{link.GetProperty("token").GetString()}"));

        Assert.That(link.GetProperty("path").GetString(), Is.EqualTo($"/s/{link.GetProperty("token").GetString()}"));
        Assert.That(link.GetProperty("messages").GetInt32(), Is.EqualTo(2));
        Assert.That(shared.GetProperty("title").GetString(), Is.EqualTo("Shared trip"));
        Assert.That(shared.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())),
            Is.EqualTo(new[] { ("user", "first question"), ("assistant", "You said: first question") }));
    }

    [Test]
    public async Task ALink_UpToAChosenMessage_ShowsNothingAfterIt()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        await SendAsync(owner, chat, "one");
        await SendAsync(owner, chat, "two");
        var messages = (await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages").EnumerateArray().ToArray();

        var link = await ShareAsync(owner, chat, messages[0].GetProperty("id").GetGuid());
        var shared = await ApiClient.ReadAsync(await Host.NewClient().GetAsync($"api/v1/shared/{link.GetProperty("token").GetString()}"));

        Assert.That(shared.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { "one" }));
    }

    [Test]
    public async Task ARevokedLink_Is404_AndLeavesTheList()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        await SendAsync(owner, chat, "private soon");
        var link = await ShareAsync(owner, chat, null);
        var kept = await ShareAsync(owner, chat, null);
        var id = link.GetProperty("id").GetGuid();
        Assert.That(await ListAsync(owner, chat), Is.EquivalentTo(new[] { id, kept.GetProperty("id").GetGuid() }));

        var revoke = await owner.DeleteAsync($"api/v1/share-links/{id}");

        Assert.That(revoke.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        using var stranger = Host.NewClient();
        Assert.That((await stranger.GetAsync($"api/v1/shared/{link.GetProperty("token").GetString()}")).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await stranger.GetAsync($"api/v1/shared/{kept.GetProperty("token").GetString()}")).StatusCode,
            Is.EqualTo(HttpStatusCode.OK), "the other link still works");
        Assert.That(await ListAsync(owner, chat), Is.EqualTo(new[] { kept.GetProperty("id").GetGuid() }));
        Assert.That((await owner.DeleteAsync($"api/v1/share-links/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task AnotherUser_CanNeitherShareNorRevokeNorListMine()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        await SendAsync(owner, chat, "mine");
        var link = await ShareAsync(owner, chat, null);
        using var other = Host.NewClient();
        await other.SignUpAsync();

        Assert.That((await other.PostAsync($"api/v1/sessions/{chat}/share", new { })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await other.DeleteAsync($"api/v1/share-links/{link.GetProperty("id").GetGuid()}")).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await ListAsync(other, null), Is.Empty);
        Assert.That((await Host.NewClient().GetAsync($"api/v1/shared/{link.GetProperty("token").GetString()}")).StatusCode,
            Is.EqualTo(HttpStatusCode.OK), "still working: the other user's revoke did nothing");
    }

    [Test]
    public async Task BadMessages_Are400NamingUpToMessageId_AndUnknownTokens404()
    {
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var empty = await owner.CreateSessionAsync();
        var chat = await owner.CreateSessionAsync();
        await SendAsync(owner, chat, "here");

        var noMessages = await owner.PostAsync($"api/v1/sessions/{empty}/share", new { });
        var notOfTheChat = await owner.PostAsync($"api/v1/sessions/{chat}/share", new { upToMessageId = Guid.NewGuid() });

        foreach (var response in new[] { noMessages, notOfTheChat })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("upToMessageId", out _), Is.True);
        }

        Assert.That((await Host.NewClient().GetAsync("api/v1/shared/not-a-token")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await Host.NewClient().GetAsync($"api/v1/shared/{new string('x', 500)}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    private static async Task SendAsync(ApiClient client, Guid chat, string content) =>
        (await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content })).EnsureSuccessStatusCode();

    internal static async Task<JsonElement> ShareAsync(ApiClient client, Guid chat, Guid? upTo)
    {
        var response = await client.PostAsync($"api/v1/sessions/{chat}/share", upTo is null ? new { } : new { upToMessageId = upTo });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }

    private static async Task<Guid[]> ListAsync(ApiClient client, Guid? chat) =>
        (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/share-links{(chat is null ? "" : $"?chatId={chat}")}")))
        .EnumerateArray().Select(l => l.GetProperty("id").GetGuid()).ToArray();
}

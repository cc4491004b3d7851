using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.TestKit;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Images on share links, on both databases: the copy names its messages' images and
/// <c>GET /api/v1/shared/{token}/images/{name}</c> serves those signed out, byte for byte; an image of a message after
/// the copy, of another chat, an unknown name and any image once the link is revoked are all the same 404.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class ShareLinkImagesApiTests(string storage) : ApiHostFixture(storage)
{
    [TearDown]
    public async Task NoImagesTaken() => await Host.TakeImagesAsync(false);

    [Test]
    public async Task ALinksImages_AreServedSignedOut_OnlyThoseOfItsCopy_AndNoneOnceRevoked()
    {
        await Host.TakeImagesAsync(true);
        using var owner = Host.NewClient();
        await owner.SignUpAsync();
        var chat = await owner.CreateSessionAsync();
        await SendAsync(owner, chat, "in the copy", TestImages.DataUrl("image/png", TestImages.Png));
        await SendAsync(owner, chat, "after the copy", TestImages.DataUrl("image/jpeg", TestImages.Jpeg));
        var messages = (await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages").EnumerateArray().ToArray();
        var inCopy = ImageNames(messages[0]).Single();
        var afterCopy = ImageNames(messages[2]).Single();
        var other = await owner.CreateSessionAsync();
        await SendAsync(owner, other, "another chat", TestImages.DataUrl("image/gif", TestImages.Gif));
        var otherChats = ImageNames((await ApiClient.ReadAsync(await owner.GetAsync($"api/v1/sessions/{other}/messages")))
            .GetProperty("messages")[0]).Single();
        await ShareLinkApiTests.ShareAsync(owner, other, null); // a working link of the other chat: its images are still not this link's

        var link = await ShareLinkApiTests.ShareAsync(owner, chat, messages[1].GetProperty("id").GetGuid());
        var token = link.GetProperty("token").GetString();
        using var stranger = Host.NewClient();
        var shared = await ApiClient.ReadAsync(await stranger.GetAsync($"api/v1/shared/{token}"));
        var served = await stranger.GetAsync($"api/v1/shared/{token}/images/{inCopy}");

        var sharedMessages = shared.GetProperty("messages").EnumerateArray().ToArray();
        Assert.That(sharedMessages, Has.Length.EqualTo(2));
        Assert.That(ImageNames(sharedMessages[0]), Is.EqualTo(new[] { inCopy }), "the copy names the question's image");
        Assert.That(sharedMessages[0].GetProperty("images")[0].GetProperty("width").GetInt32(), Is.EqualTo(1));
        Assert.That(served.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await served.Content.ReadAsByteArrayAsync(), Is.EqualTo(TestImages.Png), "byte for byte");
        Assert.That(served.Content.Headers.ContentType?.MediaType, Is.EqualTo("image/png"));
        Assert.That(served.Headers.CacheControl?.NoStore, Is.True);
        Assert.That(served.Headers.CacheControl?.Private, Is.True);
        Assert.That(served.Headers.GetValues("X-Content-Type-Options"), Is.EqualTo(new[] { "nosniff" }));

        var refusals = new List<string>();
        foreach (var name in new[] { afterCopy, otherChats, "0123456789abcdef0123456789abcdef.png", "..%2Fsecret" })
        {
            refusals.Add(await NotFoundAsync(stranger, $"api/v1/shared/{token}/images/{name}"));
        }

        (await owner.DeleteAsync($"api/v1/share-links/{link.GetProperty("id").GetGuid()}")).EnsureSuccessStatusCode();
        refusals.Add(await NotFoundAsync(stranger, $"api/v1/shared/{token}/images/{inCopy}"));
        refusals.Add(await NotFoundAsync(stranger, $"api/v1/shared/not-a-token/images/{inCopy}"));

        Assert.That(refusals.Distinct(), Has.Exactly(1).Items, "every refusal reads the same, so none tells what exists");
    }

    /// <summary>A 404's problem detail.</summary>
    private static async Task<string> NotFoundAsync(ApiClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
        return (await ApiClient.ReadAsync(response)).GetProperty("detail").GetString()!;
    }

    private static string[] ImageNames(JsonElement message) =>
        [.. message.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("name").GetString()!)];

    private static async Task SendAsync(ApiClient client, Guid chat, string content, string image)
    {
        var response = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content, images = new[] { image } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }
}

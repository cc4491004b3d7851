using System.Net;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Images through <c>/v1</c>: the question's images reach the model host as their exact bytes, are kept in the object
/// store (not the database) and go with the chat; a model whose hosts take no images, and a remote URL, are refused
/// naming the part, with nothing stored.
/// </summary>
public sealed partial class OpenAiApiTests
{
    [TearDown]
    public async Task NoImagesTaken() => await ImagesTakenAsync(false);

    [Test]
    public async Task Images_ReachTheHostAsTheirExactBytes_AreKeptInTheObjectStore_AndGoWithTheChat()
    {
        await ImagesTakenAsync(true);
        var (client, _) = await KeyClientAsync();
        var jpeg = TestImages.Jpeg;
        var png = TestImages.Png;
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("v1/models/default"))).GetProperty("capabilities")
            .GetProperty("vision").GetBoolean(), Is.True, "/v1/models says the model takes images");

        var response = await ImageCompletionAsync(client, "What is in these?",
            TestImages.DataUrl("image/jpeg", jpeg), TestImages.DataUrl("image/png", png));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1].Turns[^1];
        Assert.That(asked.Content, Is.EqualTo("What is in these?"));
        Assert.That(asked.Images!.Select(i => (i.MediaType, Bytes(i.DataUrl!))),
            Is.EqualTo(new[] { ("image/jpeg", jpeg), ("image/png", png) }), "the host got the exact bytes, in order");

        var chat = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions")))[0].GetProperty("id").GetGuid();
        var kept = await StoredImagesAsync(chat);
        Assert.That(kept.Values.OrderBy(b => b.Length), Is.EqualTo(new[] { jpeg, png }.OrderBy(b => b.Length)),
            "the object store holds both images under the chat");
        Assert.That(kept.Keys, Has.All.EndWith(".jpg").Or.EndWith(".png"));

        // The message shows its images by name; each is served, and the transcript exports their bytes.
        var messages = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages"))).GetProperty("messages");
        var shown = messages.EnumerateArray().Single(m => m.GetProperty("role").GetString() == "user").GetProperty("images");
        Assert.That(shown.EnumerateArray().Select(i => (i.GetProperty("mediaType").GetString(), i.GetProperty("width").GetInt32(),
            i.GetProperty("height").GetInt32())), Is.EqualTo(new[] { ("image/jpeg", 3, 2), ("image/png", 1, 1) }));
        var served = await client.GetAsync($"api/v1/sessions/{chat}/images/{shown[1].GetProperty("name").GetString()}");
        Assert.That(served.Content.Headers.ContentType?.MediaType, Is.EqualTo("image/png"));
        Assert.That(await served.Content.ReadAsByteArrayAsync(), Is.EqualTo(png));
        Assert.That((await client.GetAsync($"api/v1/sessions/{chat}/images/..%2F..%2Fsecret.png")).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound));
        var exported = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/transcript?format=json")))
            .GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "user").GetProperty("images");
        Assert.That(exported.EnumerateArray().Select(i => Bytes(i.GetProperty("dataUrl").GetString()!)), Is.EqualTo(new[] { jpeg, png }));
        var (stranger, _) = await KeyClientAsync();
        Assert.That((await stranger.GetAsync($"api/v1/sessions/{chat}/images/{shown[1].GetProperty("name").GetString()}")).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound), "another user cannot see them");

        var deleted = await client.PostAsync("api/v1/sessions/delete", new { ids = new[] { chat } });
        Assert.That(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        Assert.That(await StoredImagesAsync(chat), Is.Empty, "the images went with the chat");
    }

    [Test]
    public async Task Images_ForAModelThatTakesNone_Are400NamingThePart_AndStoreNothing()
    {
        await ImagesTakenAsync(false);
        var (client, _) = await KeyClientAsync();
        var before = await AllStoredImageKeysAsync();

        var response = await ImageCompletionAsync(client, "What is this?", TestImages.DataUrl("image/gif", TestImages.Gif));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("messages[0].content[1].image_url"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("does not take images"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
        Assert.That(await AllStoredImageKeysAsync(), Is.EqualTo(before), "no image kept for a refused question");
    }

    [Test]
    public async Task Images_ByRemoteUrl_Are400NamingThePart_TheServerFetchesNothing()
    {
        await ImagesTakenAsync(true);
        var (client, _) = await KeyClientAsync();

        var response = await ImageCompletionAsync(client, "What is this?", "https://example.invalid/cat.png");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("messages[0].content[1].image_url"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("fetches nothing"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    private Task ImagesTakenAsync(bool taken) => Host.TakeImagesAsync(taken);

    private static Task<HttpResponseMessage> ImageCompletionAsync(ApiClient client, string text, params string[] urls) =>
        client.Http.PostAsync("v1/chat/completions", new StringContent(JsonSerializer.Serialize(new
        {
            model = "default",
            messages = new object[]
            {
                new
                {
                    role = "user",
                    content = new object[] { new { type = "text", text } }
                        .Concat(urls.Select(url => new { type = "image_url", image_url = new { url } })).ToArray(),
                },
            },
        }), Encoding.UTF8, "application/json"));

    private static byte[] Bytes(string dataUrl) => Convert.FromBase64String(dataUrl[(dataUrl.IndexOf(',') + 1)..]);

    private Task<Dictionary<string, byte[]>> StoredImagesAsync(Guid chat) => Host.StoredImagesAsync(chat);

    private Task<List<string>> AllStoredImageKeysAsync() => Host.StoredImageKeysAsync();
}

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

    [Test]
    public async Task ImagesOfEarlierTurns_ReachTheHostWithTheirTurns_AreKept_AndTheChatIsFoundAgainByThem()
    {
        await ImagesTakenAsync(true);
        var (client, _) = await KeyClientAsync();
        var png = TestImages.Png;
        var gif = TestImages.Gif;
        object UserTurn(string text, string url) => new
        {
            role = "user",
            content = new object[] { new { type = "text", text }, new { type = "image_url", image_url = new { url } } },
        };
        var history = new List<object>
        {
            UserTurn("Look at this.", TestImages.DataUrl("image/png", png)),
            new { role = "assistant", content = "A dot." },
            UserTurn("And this one?", TestImages.DataUrl("image/gif", gif)),
        };

        var first = await client.PostAsync("v1/chat/completions", new { model = "default", messages = history });

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK), await first.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1].Turns;
        Assert.That(asked.Select(t => t.Images?.Select(i => Bytes(i.DataUrl!)).ToArray()),
            Is.EqualTo(new[] { new[] { png }, null, new[] { gif } }), "each image with its own turn, exact bytes");
        var chat = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions")))[0].GetProperty("id").GetGuid();
        Assert.That((await StoredImagesAsync(chat)).Values.OrderBy(b => b.Length), Is.EqualTo(new[] { png, gif }.OrderBy(b => b.Length)),
            "the earlier turn's image is kept in the object store with the question's");

        // The client sends the whole history again, images and all: the same chat goes on, nothing kept twice.
        var answer = (await ApiClient.ReadAsync(first)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        history.Add(new { role = "assistant", content = answer });
        history.Add(new { role = "user", content = "Which was first?" });
        var second = await client.PostAsync("v1/chat/completions", new { model = "default", messages = history });

        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK), await second.Content.ReadAsStringAsync());
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1));
        Assert.That(await StoredImagesAsync(chat), Has.Count.EqualTo(2));
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Images?.Count ?? 0), Is.EqualTo(new[] { 1, 0, 1, 0, 0 }),
            "the host sees the earlier images again as the chat goes on");

        // Another image in the same place is another conversation: a new chat.
        history[0] = UserTurn("Look at this.", TestImages.DataUrl("image/jpeg", TestImages.Jpeg));
        var other = await client.PostAsync("v1/chat/completions", new { model = "default", messages = history });
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK), await other.Content.ReadAsStringAsync());
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public async Task ImagesOfEarlierTurns_InAnAnswer_OrForAModelThatTakesNone_Are400NamingThePart_AndStoreNothing()
    {
        var (client, _) = await KeyClientAsync();
        var url = TestImages.DataUrl("image/png", TestImages.Png);
        var image = new object[] { new { type = "text", text = "see" }, new { type = "image_url", image_url = new { url } } };
        var before = await AllStoredImageKeysAsync();

        await ImagesTakenAsync(false);
        var blind = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new object[]
            {
                new { role = "user", content = image }, new { role = "assistant", content = "ok" },
                new { role = "user", content = "and now?" },
            },
        });
        await ImagesTakenAsync(true);
        var inAnswer = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new object[]
            {
                new { role = "user", content = "hi" }, new { role = "assistant", content = image },
                new { role = "user", content = "and now?" },
            },
        });

        foreach (var (response, says) in new[] { (blind, "does not take images"), (inAnswer, "user messages only") })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
            Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(response == blind
                ? "messages[0].content[1].image_url"
                : "messages[1].content[1].image_url"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain(says));
        }

        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
        Assert.That(await AllStoredImageKeysAsync(), Is.EqualTo(before), "no image kept for a refused question");
    }

    [Test]
    public async Task ImagesOfACompletionThatKeepsNothing_GoWithItsChat()
    {
        await ImagesTakenAsync(true);
        var (client, _) = await KeyClientAsync();
        var before = await AllStoredImageKeysAsync();
        var url = TestImages.DataUrl("image/png", TestImages.Png);

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            store = false,
            messages = new object[]
            {
                new { role = "user", content = new object[] { new { type = "text", text = "see" }, new { type = "image_url", image_url = new { url } } } },
                new { role = "assistant", content = "ok" },
                new { role = "user", content = new object[] { new { type = "text", text = "again" }, new { type = "image_url", image_url = new { url } } } },
            },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Images?.Count ?? 0), Is.EqualTo(new[] { 1, 0, 1 }));
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((await AllStoredImageKeysAsync()).Count > before.Count && DateTime.UtcNow < until)
        {
            await Task.Delay(100);
        }

        Assert.That(await AllStoredImageKeysAsync(), Is.EqualTo(before), "store: false keeps no image once answered");
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

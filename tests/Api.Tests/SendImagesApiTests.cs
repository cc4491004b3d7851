using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.TestKit;

namespace MeatLizard.Api.Tests;

/// <summary>
/// Images sent with a message from the web app (<c>POST /api/v1/sessions/{id}/send</c>, <c>images</c> as data: URLs),
/// on both databases: read as <c>/v1</c> reads them, they reach the model host as their exact bytes and are kept in the
/// object store with the message, readable back byte for byte; every refusal is a 400 naming the image, with nothing
/// stored.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class SendImagesApiTests(string storage) : ApiHostFixture(storage)
{
    /// <summary>Low enough that a body over the API's usual 256 KB limit is still read, and its image refused by the cap.</summary>
    private const int MaxImageBytes = 64 * 1024;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Api:OpenAi:MaxImageBytes"] = MaxImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // Two images per request to the host: a third, older one is left out.
        ["Relay:MaxImagesPerRequest"] = "2",
    };

    [Test]
    public async Task AChatThatGoesOn_SendsItsEarlierImagesToTheHost_TheOldestLeftOutOverTheCap()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var sent = new[] { ("image/png", TestImages.Png), ("image/gif", TestImages.Gif), ("image/jpeg", TestImages.Jpeg) };

        foreach (var (i, (type, bytes)) in sent.Index())
        {
            var response = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true",
                new { content = $"Picture {i}", images = new[] { TestImages.DataUrl(type, bytes) } });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        }

        var third = Host.Engine.Requests[^1].Turns;
        Assert.That(third.Where(t => t.Images is not null).Select(t => (t.Content, Bytes(t.Images!.Single().DataUrl!))),
            Is.EqualTo(new[] { ("Picture 1", TestImages.Gif), ("Picture 2", TestImages.Jpeg) }),
            "the question's image and the newest earlier one; the oldest left out, its turn still there");
        Assert.That(third.Select(t => t.Content), Does.Contain("Picture 0"));

        var words = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "Which was first?" });
        Assert.That(words.StatusCode, Is.EqualTo(HttpStatusCode.OK), await words.Content.ReadAsStringAsync());
        Assert.That(Host.Engine.Requests[^1].Turns.Where(t => t.Images is not null).Select(t => t.Content),
            Is.EqualTo(new[] { "Picture 1", "Picture 2" }), "a question in words takes the two newest images");
    }

    [Test]
    public async Task AChatWithEarlierImages_GoesOnWithAModelThatNoLongerTakesImages_InWordsOnly()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await ChatAskedAboutAPngAsync(client, "Look at this");

        // The host's model stops taking images (its operator took the projector away): the chat must still be answered.
        await Host.TakeImagesAsync(false);
        var words = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "And now?" });

        Assert.That(words.StatusCode, Is.EqualTo(HttpStatusCode.OK), await words.Content.ReadAsStringAsync());
        Assert.That((await ApiClient.ReadAsync(words)).GetProperty("source").GetString(), Is.EqualTo("model"));
        var turns = Host.Engine.Requests[^1].Turns;
        Assert.That(turns.Select(t => t.Content), Does.Contain("Look at this"), "the earlier turn goes, in words");
        Assert.That(turns.Where(t => t.Images is { Count: > 0 }), Is.Empty, "without its image: no host of the model takes one");
        Assert.That(await Host.StoredImagesAsync(chat), Has.Count.EqualTo(1), "the image stays kept with its message");
    }

    [TearDown]
    public async Task NoImagesTaken() => await Host.TakeImagesAsync(false);

    [Test]
    public async Task Send_WithImages_ReachesTheHostAsTheirExactBytes_AndKeepsThemReadableBack()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var jpeg = TestImages.Jpeg;
        var png = TestImages.Png;

        var response = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new
        {
            content = "What is in these?",
            images = new[] { TestImages.DataUrl("image/jpeg", jpeg), TestImages.DataUrl("image/png", png) },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1].Turns[^1];
        Assert.That(asked.Content, Is.EqualTo("What is in these?"));
        Assert.That(asked.Images!.Select(i => (i.MediaType, Bytes(i.DataUrl!))),
            Is.EqualTo(new[] { ("image/jpeg", jpeg), ("image/png", png) }), "the host got the exact bytes, in order");
        Assert.That((await Host.StoredImagesAsync(chat)).Values.OrderBy(b => b.Length),
            Is.EqualTo(new[] { jpeg, png }.OrderBy(b => b.Length)), "the object store holds both under the chat");

        var question = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "user");
        var shown = question.GetProperty("images").EnumerateArray().ToList();
        Assert.That(shown.Select(i => (i.GetProperty("mediaType").GetString(), i.GetProperty("width").GetInt32())),
            Is.EqualTo(new[] { ("image/jpeg", 3), ("image/png", 1) }));
        foreach (var (image, bytes) in shown.Zip([jpeg, png]))
        {
            var served = await client.GetAsync($"api/v1/sessions/{chat}/images/{image.GetProperty("name").GetString()}");
            Assert.That(served.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await served.Content.ReadAsByteArrayAsync(), Is.EqualTo(bytes), "read back byte for byte");
        }
    }

    [Test]
    public async Task CsvTranscript_NamesEachImageAsTheJsonDoes_DownloadedOrStored()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var sent = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new
        {
            content = "What is in these?",
            images = new[] { TestImages.DataUrl("image/jpeg", TestImages.Jpeg), TestImages.DataUrl("image/png", TestImages.Png) },
        });
        Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.OK), await sent.Content.ReadAsStringAsync());

        var json = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/transcript"));
        var csv = await (await client.GetAsync($"api/v1/sessions/{chat}/transcript?format=csv")).Content.ReadAsStringAsync();
        var stored = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/transcript?store=true"));
        using var anonymous = new HttpClient();
        var storedCsv = await (await anonymous.GetAsync(new Uri(stored.GetProperty("csvUrl").GetString()!))).Content
            .ReadAsStringAsync();

        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.EndWith(",parentId,images"));
        var question = lines.Single(l => l.Contains(",user,user,", StringComparison.Ordinal));
        var cell = question[(question.IndexOf(",\"[", StringComparison.Ordinal) + 1)..];
        Assert.That(cell, Does.StartWith("\"[").And.EndWith("]\""), "one quoted cell, last");
        var named = JsonDocument.Parse(cell[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal)).RootElement;
        var exported = json.GetProperty("messages").EnumerateArray()
            .Single(m => m.GetProperty("role").GetString() == "user").GetProperty("images");
        Assert.That(named.EnumerateArray().Select(Shown), Is.EqualTo(exported.EnumerateArray().Select(Shown)),
            "each image's name, kind, size and bytes, as the JSON export has them");
        Assert.That(named.EnumerateArray().Select(i => i.GetProperty("mediaType").GetString()),
            Is.EqualTo(new[] { "image/jpeg", "image/png" }));
        Assert.That(named.EnumerateArray().Any(i => i.TryGetProperty("dataUrl", out _)), Is.False, "names, not bytes");
        Assert.That(lines.Single(l => l.Contains(",assistant,", StringComparison.Ordinal)), Does.EndWith(","),
            "an answer has no images");
        Assert.That(storedCsv, Is.EqualTo(csv), "the stored CSV names them too");
    }

    private static (string?, string?, int, int, long) Shown(JsonElement image) => (image.GetProperty("name").GetString(),
        image.GetProperty("mediaType").GetString(), image.GetProperty("width").GetInt32(),
        image.GetProperty("height").GetInt32(), image.GetProperty("bytes").GetInt64());

    [Test]
    public async Task EditingAQuestionsWords_KeepsItsImages_ForTheModel()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await ChatAskedAboutAPngAsync(client, "What is this?");

        var edited = await client.PostAsync($"api/v1/sessions/{chat}/edit-last?wait=true", new { content = "What colour is it?" });

        Assert.That(edited.StatusCode, Is.EqualTo(HttpStatusCode.OK), await edited.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1].Turns[^1];
        Assert.That(asked.Content, Is.EqualTo("What colour is it?"));
        Assert.That(asked.Images?.Select(i => Bytes(i.DataUrl!)), Is.EqualTo(new[] { TestImages.Png }),
            "the new words ask about the same image");
        var question = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "user");
        Assert.That(question.GetProperty("images").GetArrayLength(), Is.EqualTo(1), "the new version shows it");
        Assert.That(await Host.StoredImagesAsync(chat), Has.Count.EqualTo(1), "one image kept, held by both versions");
    }

    [Test]
    public async Task Edit_WithImages_ReplacesThem_AndAnEmptyListDropsThem()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await ChatAskedAboutAPngAsync(client, "What is this?");
        var first = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages")[0].GetProperty("id").GetGuid();

        var replaced = await client.PostAsync($"api/v1/sessions/{chat}/messages/{first}/edit?wait=true", new
        {
            content = "And these?",
            images = new[] { TestImages.DataUrl("image/gif", TestImages.Gif), TestImages.DataUrl("image/jpeg", TestImages.Jpeg) },
        });
        Assert.That(replaced.StatusCode, Is.EqualTo(HttpStatusCode.OK), await replaced.Content.ReadAsStringAsync());
        Assert.That(Host.Engine.Requests[^1].Turns[^1].Images?.Select(i => Bytes(i.DataUrl!)),
            Is.EqualTo(new[] { TestImages.Gif, TestImages.Jpeg }), "the edit's images, in order, instead of the old one");

        var dropped = await client.PostAsync($"api/v1/sessions/{chat}/edit-last?wait=true",
            new { content = "Never mind the pictures.", images = Array.Empty<string>() });
        Assert.That(dropped.StatusCode, Is.EqualTo(HttpStatusCode.OK), await dropped.Content.ReadAsStringAsync());
        Assert.That(Host.Engine.Requests[^1].Turns.Where(t => t.Images is { Count: > 0 }), Is.Empty);
    }

    [Test]
    public async Task Edit_WithABadImage_Is400NamingIt_AndStoresNothing()
    {
        await Host.TakeImagesAsync(true);
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        (await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = "Hello" })).EnsureSuccessStatusCode();
        var before = await Host.StoredImageKeysAsync();

        var response = await client.PostAsync($"api/v1/sessions/{chat}/edit-last", new
        {
            content = "What is this?",
            images = new[] { TestImages.DataUrl("image/gif", TestImages.Gif), TestImages.DataUrl("image/bmp", TestImages.Png) },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var errors = (await ApiClient.ReadAsync(response)).GetProperty("errors");
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.EqualTo(new[] { "images[1]" }));
        var messages = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages");
        Assert.That(messages.GetArrayLength(), Is.EqualTo(2), "no new version stored");
        Assert.That(await Host.StoredImageKeysAsync(), Is.EqualTo(before), "no image kept for a refused edit");
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        var gif = TestImages.DataUrl("image/gif", TestImages.Gif);
        yield return new TestCaseData(new[] { TestImages.DataUrl("image/bmp", TestImages.Png) }, "images[0]", "not 'image/bmp'")
            .SetName("Send_WithABmp_Is400NamingTheImage");
        yield return new TestCaseData(new[] { gif, TestImages.DataUrl("image/png", [.. TestImages.Png, .. new byte[300 * 1024]]) },
            "images[1]", $"at most {MaxImageBytes} bytes").SetName("Send_WithAnImageOverTheCap_Is400NamingTheImage");
        yield return new TestCaseData(new[] { "https://example.invalid/cat.png" }, "images[0]", "fetches nothing")
            .SetName("Send_WithARemoteUrl_Is400NamingTheImage");
        yield return new TestCaseData(new[] { TestImages.DataUrl("image/png", "not a picture"u8.ToArray()) }, "images[0]",
            "not a PNG").SetName("Send_WithBytesThatAreNoImage_Is400NamingTheImage");
    }

    [TestCaseSource(nameof(Refusals))]
    public async Task Send_WithABadImage_Is400NamingIt_AndStoresNothing(string[] images, string field, string says)
    {
        await Host.TakeImagesAsync(true);
        await AssertRefusedAsync(images, field, says);
    }

    [Test]
    public async Task Send_WithImages_ToAModelThatTakesNone_Is400NamingTheFirst_AndStoresNothing() =>
        await AssertRefusedAsync([TestImages.DataUrl("image/gif", TestImages.Gif)], "images[0]", "does not take images");

    private async Task AssertRefusedAsync(string[] images, string field, string says)
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync();
        var before = await Host.StoredImageKeysAsync();

        var response = await client.PostAsync($"api/v1/sessions/{chat}/send", new { content = "What is this?", images });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var errors = (await ApiClient.ReadAsync(response)).GetProperty("errors");
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.EqualTo(new[] { field }));
        Assert.That(errors.GetProperty(field)[0].GetString(), Does.Contain(says));
        var messages = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages");
        Assert.That(messages.GetArrayLength(), Is.Zero, "no message stored");
        Assert.That(await Host.StoredImageKeysAsync(), Is.EqualTo(before), "no image kept for a refused question");
    }

    /// <summary>A new chat of <paramref name="client"/>'s whose first question, answered, shows a PNG.</summary>
    private static async Task<Guid> ChatAskedAboutAPngAsync(ApiClient client, string content)
    {
        var chat = await client.CreateSessionAsync();
        var sent = await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true",
            new { content, images = new[] { TestImages.DataUrl("image/png", TestImages.Png) } });
        Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.OK), await sent.Content.ReadAsStringAsync());
        return chat;
    }

    private static byte[] Bytes(string dataUrl) => Convert.FromBase64String(dataUrl[(dataUrl.IndexOf(',') + 1)..]);
}

using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary><c>GET /api/v1/search</c>: the caller's own chats and messages, on both storages.</summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class SearchApiTests(string storage) : ApiHostFixture(storage)
{
    [Test]
    public async Task Search_SignedOut_Is401()
    {
        using var client = Host.NewClient();

        var response = await client.GetAsync("api/v1/search?q=anything");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Search_FindsTheCallersMessage_WithItsChatAndHighlight_AndNeverAnotherUsers()
    {
        using var alice = Host.NewClient();
        await alice.SignUpAsync();
        using var bob = Host.NewClient();
        await bob.SignUpAsync();
        var word = "w" + Guid.NewGuid().ToString("N")[..10];
        var aliceChat = await alice.CreateSessionAsync(new { title = "Alice's chat" });
        (await alice.PostAsync($"api/v1/sessions/{aliceChat}/send", new { content = $"Tell me about the {word} please" }))
            .EnsureSuccessStatusCode();
        var bobChat = await bob.CreateSessionAsync(new { title = $"Bob's {word}" });

        var found = await ReadHitsAsync(await alice.GetAsync($"api/v1/search?q={word}"));
        var bobs = await ReadHitsAsync(await bob.GetAsync($"api/v1/search?q={word.ToUpperInvariant()}"));

        // The test engine's answer repeats the question, so it may match too once it has come.
        Assert.That(found.Select(h => h.GetProperty("chatId").GetGuid()).Distinct(), Is.EqualTo(new[] { aliceChat }));
        var hit = found.Single(h => h.GetProperty("role").GetString() == "user");
        Assert.That(hit.GetProperty("title").GetString(), Is.EqualTo("Alice's chat"));
        var snippet = hit.GetProperty("snippet").GetString()!;
        var highlight = hit.GetProperty("highlights")[0];
        Assert.That(snippet.Substring(highlight.GetProperty("start").GetInt32(), highlight.GetProperty("length").GetInt32()),
            Is.EqualTo(word));
        var messages = await ApiClient.ReadAsync(await alice.GetAsync($"api/v1/sessions/{aliceChat}/messages"));
        Assert.That(hit.GetProperty("messageId").GetGuid(),
            Is.EqualTo(messages.GetProperty("messages")[0].GetProperty("id").GetGuid()), "the message to open the chat at");
        Assert.That(bobs.Select(h => h.GetProperty("chatId").GetGuid()), Is.EqualTo(new[] { bobChat }),
            "Bob finds his own chat by its title, not Alice's message");
    }

    [Test]
    public async Task AHitInAnEarlierVersion_SaysItIsOffThePath_AndSelectingItShowsIt()
    {
        Host.Engine.Hang = false;
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var (old, kept) = ("o" + Guid.NewGuid().ToString("N")[..10], "k" + Guid.NewGuid().ToString("N")[..10]);
        var chat = await client.CreateSessionAsync();
        await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = $"first {kept}" });
        await client.PostAsync($"api/v1/sessions/{chat}/send?wait=true", new { content = $"second {old}" });
        var before = (await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat}/messages")))
            .GetProperty("messages");
        var second = before[2].GetProperty("id").GetGuid();
        (await client.PostAsync($"api/v1/sessions/{chat}/messages/{second}/edit?wait=true", new { content = "second, edited" }))
            .EnsureSuccessStatusCode();

        var offPath = (await ReadHitsAsync(await client.GetAsync($"api/v1/search?q={old}")))
            .Single(h => h.GetProperty("role").GetString() == "user");
        var onPath = (await ReadHitsAsync(await client.GetAsync($"api/v1/search?q={kept}")))
            .Single(h => h.GetProperty("role").GetString() == "user");
        var selected = await ApiClient.ReadAsync(
            await client.PostAsync($"api/v1/sessions/{chat}/messages/{offPath.GetProperty("messageId").GetGuid()}/select", null));

        Assert.Multiple(() =>
        {
            Assert.That(offPath.GetProperty("messageId").GetGuid(), Is.EqualTo(second));
            Assert.That(offPath.GetProperty("offPath").GetBoolean(), Is.True, "the edited question's earlier version");
            Assert.That(onPath.GetProperty("offPath").GetBoolean(), Is.False);
            Assert.That(selected.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()),
                Does.Contain(second), "selected, the hit is on the path shown");
        });
    }

    [TestCase("\"")]
    [TestCase("\"unclosed quote")]
    [TestCase("*")]
    [TestCase("prefix*")]
    [TestCase("NEAR(a b, 3)")]
    [TestCase("-not this")]
    [TestCase("title:x content:y")]
    [TestCase("a OR b AND NOT c")]
    [TestCase("'; DROP TABLE messages; --")]
    [TestCase("!!! ::: ((( )))")]
    [TestCase("&amp; <script>alert(1)</script>")]
    public async Task HostileText_IsAnsweredAsAPlainSearch(string text)
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var chat = await client.CreateSessionAsync(new { title = "hostile" });
        (await client.PostAsync($"api/v1/sessions/{chat}/send", new { content = $"{text} and then some" })).EnsureSuccessStatusCode();

        var response = await client.GetAsync($"api/v1/search?q={Uri.EscapeDataString(text)}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var hits = await ReadHitsAsync(response);
        var hasWords = text.Any(char.IsLetterOrDigit);
        // The question holds the words, and so does the test engine's answer, which repeats it.
        Assert.That(hits.Where(h => h.TryGetProperty("messageId", out _)).Select(h => h.GetProperty("chatId").GetGuid()).Distinct(),
            hasWords ? Is.EqualTo(new[] { chat }) : Is.Empty, "the messages holding the words are found, as plain words");
    }

    [TestCase("", "q")]
    [TestCase("%20%20", "q")]
    [TestCase("x&limit=0", "limit")]
    [TestCase("x&limit=51", "limit")]
    [TestCase("x&cursor=abc", "cursor")]
    [TestCase("x&cursor=-5", "cursor")]
    public async Task BadInput_Is400NamingTheField(string query, string field)
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.GetAsync($"api/v1/search?q={query}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty(field, out _), Is.True);
    }

    [Test]
    public async Task ATooLongQuery_Is400NamingQ()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();

        var response = await client.GetAsync($"api/v1/search?q={new string('a', 201)}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("errors").TryGetProperty("q", out _), Is.True);
    }

    [Test]
    public async Task Pages_FollowNextCursor_ToTheEnd_WithoutRepeats()
    {
        using var client = Host.NewClient();
        await client.SignUpAsync();
        var word = "p" + Guid.NewGuid().ToString("N")[..10];
        var chats = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            chats.Add(await client.CreateSessionAsync(new { title = $"{word} number {i}" }));
        }

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ApiClient.ReadAsync(await client.GetAsync(
                $"api/v1/search?q={word}&limit=2{(cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}")}"));
            seen.AddRange(page.GetProperty("results").EnumerateArray().Select(h => h.GetProperty("chatId").GetGuid()));
            cursor = page.TryGetProperty("nextCursor", out var next) ? next.GetString() : null;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.That(pages, Is.EqualTo(3));
        Assert.That(seen, Is.EquivalentTo(chats));
    }

    private static async Task<JsonElement[]> ReadHitsAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await ApiClient.ReadAsync(response)).GetProperty("results").EnumerateArray().ToArray();
    }
}

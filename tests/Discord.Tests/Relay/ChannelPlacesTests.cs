using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Where a bot is in each channel: the place never moves past a message whose work is not done, only forward, and the
/// client bot's file is replaced whole.
/// </summary>
public sealed class ChannelPlacesTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_directory = Path.Combine(Path.GetTempPath(), "meatlizard-places-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task ThePlace_StaysBeforeAMessageStillBeingWorkedOn_AndMovesPastItOnceItIsHandled()
    {
        var store = new FileRelayCursorStore(Path.Combine(_directory, "places.json"));
        var cursors = new DiscordChannelCursors(store, NullLogger.Instance);

        var answer = cursors.Read("c1", 100, caughtUp: false);
        cursors.ReadAndHandled("c1", 101); // e.g. our own message, after it
        var later = cursors.Read("c1", 102, caughtUp: false);
        later.Handled();
        await cursors.SaveMovedAsync(CancellationToken.None);
        Assert.That((await store.ReadAllAsync(CancellationToken.None))["c1"], Is.EqualTo(99UL), "not past the answer in work");

        answer.Handled();
        await cursors.SaveMovedAsync(CancellationToken.None);
        Assert.That((await store.ReadAllAsync(CancellationToken.None))["c1"], Is.EqualTo(102UL));
    }

    [Test]
    public async Task TheFile_KeepsEveryChannel_MovesForwardOnly_AndLeavesNoPartFileBehind()
    {
        var path = Path.Combine(_directory, "data", "places.json");
        var store = new FileRelayCursorStore(path);

        await store.SaveAsync(new Dictionary<string, ulong> { ["c1"] = 10, ["c2"] = 20 }, CancellationToken.None);
        await store.SaveAsync(new Dictionary<string, ulong> { ["c1"] = 5, ["c3"] = 30 }, CancellationToken.None);

        var restarted = new FileRelayCursorStore(path);
        Assert.That(await restarted.ReadAllAsync(CancellationToken.None), Is.EquivalentTo(new Dictionary<string, ulong>
        {
            ["c1"] = 10,
            ["c2"] = 20,
            ["c3"] = 30,
        }));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!), Is.EqualTo(new[] { path }));
        Assert.That(JsonDocument.Parse(await File.ReadAllTextAsync(path)).RootElement.GetProperty("c1").GetString(),
            Is.EqualTo("10"), "snowflakes as strings, as Discord writes them");
    }

    [Test]
    public async Task AChannelThatIsGone_IsForgotten()
    {
        var store = new FileRelayCursorStore(Path.Combine(_directory, "places.json"));
        var cursors = new DiscordChannelCursors(store, NullLogger.Instance);
        cursors.ReadAndHandled("c1", 10);
        cursors.ReadAndHandled("c2", 20);
        await cursors.SaveMovedAsync(CancellationToken.None);

        cursors.Forget("c1");
        await cursors.SaveMovedAsync(CancellationToken.None);

        Assert.That(await store.ReadAllAsync(CancellationToken.None), Is.EquivalentTo(new Dictionary<string, ulong> { ["c2"] = 20 }));
    }

    [Test]
    public async Task NoFile_ReadsAsNoPlace()
    {
        Assert.That(await new FileRelayCursorStore(Path.Combine(_directory, "none.json")).ReadAllAsync(CancellationToken.None),
            Is.Empty);
    }
}

/// <summary>The loopback Discord answers GET /channels/{id}/messages as Discord documents it, whatever our client sends.</summary>
public sealed class FakeMessageHistoryTests
{
    private FakeDiscordServer _fake = null!;
    private FakeBot _bot = null!;
    private FakeChannel _channel = null!;
    private HttpClient _http = null!;
    private List<string> _ids = null!;

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _bot = _fake.AddBot("bot");
        _channel = _fake.CreateChannel("general");
        _ids = [.. Enumerable.Range(0, 10).Select(i => _fake.Post(_bot.UserId, _channel.Id, $"m{i}").Id)];
        _http = new HttpClient { BaseAddress = new Uri(_fake.ApiBaseUrl + "/") };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bot", _bot.Token);
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _fake.DisposeAsync();
    }

    [Test]
    public async Task After_GivesTheMessagesRightAfterIt_NewestFirst()
    {
        Assert.That(await ContentsAsync($"?after={_ids[2]}&limit=3"), Is.EqualTo(new[] { "m5", "m4", "m3" }));
    }

    [Test]
    public async Task Before_GivesTheMessagesRightBeforeIt_NewestFirst()
    {
        Assert.That(await ContentsAsync($"?before={_ids[5]}&limit=2"), Is.EqualTo(new[] { "m4", "m3" }));
    }

    [Test]
    public async Task NoAnchor_GivesTheNewest_FiftyByDefault()
    {
        Assert.That(await ContentsAsync("?limit=2"), Is.EqualTo(new[] { "m9", "m8" }));
        Assert.That(await ContentsAsync(""), Has.Count.EqualTo(10));
    }

    [TestCase("?limit=0")]
    [TestCase("?limit=101")]
    [TestCase("?limit=ten")]
    [TestCase("?after=12&before=34")]
    [TestCase("?after=not-a-snowflake")]
    public async Task BadQueries_AreRefusedAsAnInvalidFormBody(string query)
    {
        using var response = await _http.GetAsync($"channels/{_channel.Id}/messages{query}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32(),
            Is.EqualTo(50035));
    }

    private async Task<List<string>> ContentsAsync(string query)
    {
        using var response = await _http.GetAsync($"channels/{_channel.Id}/messages{query}");
        response.EnsureSuccessStatusCode();
        return [.. JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray()
            .Select(m => m.GetProperty("content").GetString()!)];
    }
}

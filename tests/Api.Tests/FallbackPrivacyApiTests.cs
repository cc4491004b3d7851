using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The Markov fallback learns only from the built-in corpus and the asking user's own chats: no user can draw another
/// user's words out of it by naming them in a prompt.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
[Parallelizable(ParallelScope.Self)]
public sealed class FallbackPrivacyApiTests(string provider)
{
    private const string Secret = "Your locker code is quokka xylophone marmalade.";
    private const string Probe = "What is the quokka xylophone marmalade locker code?";

    private StorageProvider _storage = null!;
    private ApiHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _storage = await StorageProvider.CreateAsync(provider);
        _host = await new ApiHost(new Dictionary<string, string?>(_storage.Settings) { ["Fallback:Mode"] = "Markov" }).StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }
    }

    [Test]
    public async Task ARarePhraseFromOneUsersChat_NeverReachesAnotherUsersFallback_WhileItsOwnerGetsIt()
    {
        using var alice = _host.NewClient();
        await alice.SignUpAsync();
        var alicesChat = await alice.CreateSessionAsync();
        _host.Engine.Reply = _ => Secret;
        var answered = await ApiClient.ReadAsync(
            await alice.PostAsync($"api/v1/sessions/{alicesChat}/send?wait=true", new { content = "What is my code?" }));
        Assert.That(answered.GetProperty("source").GetString(), Is.EqualTo("model"));

        // The model host goes away: from now on the fallback answers everyone.
        _host.Engine.Ready = false;
        // Until a heartbeat saying so is heard (a fixed second was not always enough on a loaded CI machine: a question
        // placed on the host before it went the model's way).
        await _host.WaitForHostsAsync(hosts => hosts.All(h => !h.Accepts), "the model host no longer takes questions");

        using var bob = _host.NewClient();
        await bob.SignUpAsync();
        var bobsChat = await bob.CreateSessionAsync();
        var bobs = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var reply = await ApiClient.ReadAsync(await bob.PostAsync($"api/v1/sessions/{bobsChat}/send?wait=true", new { content = Probe }));
            Assert.That(reply.GetProperty("source").GetString(), Is.EqualTo("fallback"));
            bobs.Add(reply.GetProperty("content").GetString()!);
        }

        var alices = await ApiClient.ReadAsync(
            await alice.PostAsync($"api/v1/sessions/{alicesChat}/send?wait=true", new { content = Probe }));

        Assert.Multiple(() =>
        {
            Assert.That(bobs, Has.None.Contains("quokka").IgnoreCase.And.None.Contains("xylophone").IgnoreCase
                .And.None.Contains("marmalade").IgnoreCase);
            Assert.That(alices.GetProperty("source").GetString(), Is.EqualTo("fallback"));
            Assert.That(alices.GetProperty("content").GetString(), Does.Contain("xylophone").IgnoreCase,
                "the owner's own answers shape her fallback");
        });
    }
}

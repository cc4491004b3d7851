using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Distributed.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// A model host added after the relay's channels were made: the control channel and a chat's channel exist, made when
/// only the first host was on <c>Discord:ClientBotUserIds</c>; the operator lists a second one and starts the server bot
/// again. The new host must be let in (its heartbeats heard, its work taken), in the old chat's channel too.
/// </summary>
[NonParallelizable]
public sealed class HostListedLaterTests
{
    private LoopbackChatServer _upstream = null!;
    private Cluster _cluster = null!;

    [SetUp]
    public async Task StartCluster()
    {
        _upstream = LoopbackChatServer.Start();
        _upstream.Respond = RespondAsync;
        _cluster = await Cluster.StartAsync(new ClusterOptions
        {
            ModelHosts = [Host("alpha-1")],
            SharedSettings = new Dictionary<string, string>
            {
                ["Inference__DefaultModel"] = "alpha",
                ["RateLimits__UserBurst"] = "50",
                // Once a minute by default: the test waits for nothing but the server bot's start.
                ["Discord__ClosedChannelSweepInterval"] = "01:00:00",
            },
        });
    }

    [TearDown]
    public async Task StopCluster()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
        {
            TestContext.Out.WriteLine(_cluster.Diagnostics);
        }

        await _cluster.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Test]
    public async Task AHostListedAfterTheChannelsWereMade_IsLetIn_HeardAndAnswers_InAnOldChatToo()
    {
        using var user = await ApiUser.SignUpAsync(_cluster.Apis);
        var oldChat = await user.CreateSessionAsync(model: "alpha");
        var (_, first) = await user.SendAsync(0, oldChat, "before the second host", wait: true);
        Assert.That(first.GetProperty("source").GetString(), Is.EqualTo("model"), "the chat has its channel now");

        var beta = await _cluster.AddModelHostAsync(Host("beta-1"));

        await _cluster.WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(60), atLeast: 2);
        Assert.That(_cluster.Discord.Requests.Any(r => r.BotUserId == _cluster.ServerBotUser.UserId && r.Status == 403), Is.False,
            "the server bot is refused nothing");
        using (var patched = await user.At(0).PatchAsJsonAsync($"api/v1/sessions/{oldChat}", new { model = "beta" }))
        {
            patched.EnsureSuccessStatusCode();
        }

        var newChat = await user.CreateSessionAsync(model: "beta");
        var answers = await Task.WhenAll(
            user.SendAsync(0, oldChat, "to the new host, in the old channel", wait: true),
            user.SendAsync(1, newChat, "to the new host, in a new channel", wait: true));

        Assert.Multiple(() =>
        {
            foreach (var (status, body) in answers)
            {
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
                Assert.That(body.GetProperty("source").GetString(), Is.EqualTo("model"), body.GetProperty("content").GetString());
                Assert.That(body.GetProperty("content").GetString(), Does.Contain("beta-1"), "the new host wrote it");
            }
        });
        Assert.That(beta.HasExited, Is.False);
    }

    [Test]
    public async Task AQuestionItsHostNeverTakesUp_IsAnsweredByTheOtherHostOfItsModel_NotByANotice()
    {
        await _cluster.AddModelHostAsync(Host("alpha-2"));
        await _cluster.WaitForWorkersAsync(online: true, within: TimeSpan.FromSeconds(60), atLeast: 2);
        using var user = await ApiUser.SignUpAsync(_cluster.Apis);
        Guid[] chats = [await user.CreateSessionAsync(model: "alpha"), await user.CreateSessionAsync(model: "alpha")];
        var first = await Task.WhenAll(chats.Select((chat, i) => user.SendAsync(i, chat, "make the channel", wait: true)));
        Assert.That(first.Select(a => a.Body.GetProperty("source").GetString()), Is.All.EqualTo("model"));

        // alpha-2 stays online (its heartbeats go through the control channel) but can no longer see these chats'
        // channels: what is sent to it there is never taken up (as for a host Discord refuses with 403 Missing Access).
        var alpha2 = _cluster.ModelHostBots[1];
        foreach (var chat in chats)
        {
            var channel = _cluster.Discord.Channels.Single(c => c.Name == MeatLizard.Infrastructure.Discord.Relay.DiscordRelayChannels.ChannelName(chat));
            _cluster.Discord.SetOverwriteByHand(channel.Id, alpha2.UserId, 1, 0, 1024);
        }

        // One slot each, and each answer takes a while: of the two questions sent together, one goes to each alpha host
        // however slowly the machine runs (an answer that came at once would free alpha-1 for both).
        _answerTakes = TimeSpan.FromSeconds(3);
        var answers = await Task.WhenAll(chats.Select((chat, i) => user.SendAsync(i, chat, "answered anyway", wait: true)));

        Assert.Multiple(() =>
        {
            foreach (var (status, body) in answers)
            {
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK), () => body.ToString());
                Assert.That(body.GetProperty("source").GetString(), Is.EqualTo("model"), body.GetProperty("content").GetString());
                Assert.That(body.GetProperty("content").GetString(), Does.Contain("alpha-1"));
            }
        });
        Assert.That(_cluster.ServerBot!.Printed("its host did not acknowledge it"), Is.True,
            "one question went to alpha-2 first, and came back when it was not acknowledged");
    }

    private IReadOnlyDictionary<string, string> Host(string name) => new Dictionary<string, string>
    {
        ["Inference__Engine"] = "OpenAiCompatible",
        ["Inference__OpenAiCompatible__BaseUrl"] = _upstream.BaseUrl.ToString(),
        ["Inference__OpenAiCompatible__ApiKey"] = "key-" + name,
        ["Inference__OpenAiCompatible__Models__0"] = name.Split('-')[0],
        ["Host__HostName"] = name,
        ["Inference__Parallel"] = "1",
    };

    /// <summary>How long the upstream takes before it answers a chat completion.</summary>
    private TimeSpan _answerTakes = TimeSpan.Zero;

    private async Task RespondAsync(LoopbackChatServer.Exchange exchange)
    {
        var host = exchange.Header("authorization") is { } auth && auth.StartsWith("Bearer key-", StringComparison.Ordinal)
            ? auth["Bearer key-".Length..]
            : "?";
        if (exchange.Path == "/v1/models")
        {
            await exchange.WriteJsonAsync(200, $$"""{"object":"list","data":[{"id":"{{host.Split('-')[0]}}","object":"model","created":0,"owned_by":"test"}]}""");
            return;
        }

        await Task.Delay(_answerTakes);
        await exchange.WriteStreamAsync([LoopbackChatServer.Chunk($"Answer from {host}"),
            LoopbackChatServer.Chunk(".", finish: "stop"), LoopbackChatServer.Usage(5, 3)]);
    }
}

using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Channels;
using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Telegram.Tests.Fake;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// Deployments with no Discord at all (issue 39, "No Discord needed"), on each database: the API host as a process of
/// its own with Telegram:BotToken, and a Telegram member on the loopback Bot API — with Relay:Transport=Direct and a
/// client bot that dials it with a host token the operator made with the API's <c>hosts add</c> verb, or embedded (the
/// API's own model host, on an OpenAI-compatible upstream). No process has a Discord setting; the API, which
/// dispatches, is the one that polls Telegram.
/// </summary>
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed partial class NoDiscordDeploymentTests(string storage)
{
    private static readonly TimeSpan ProcessStart = TimeSpan.FromSeconds(60);
    private const string Password = "correct horse battery";

    private readonly List<IAsyncDisposable> _owned = [];
    private string _work = null!;
    private FakeTelegramServer _telegram = null!;
    private Dictionary<string, string> _apiSettings = null!;
    private readonly string _key = DirectClientBot.NewKey();

    [SetUp]
    public async Task SetUp()
    {
        _work = Directory.CreateTempSubdirectory("meatlizard-no-discord-").FullName;
        var database = Own(await StorageProvider.CreateAsync(storage));
        _telegram = Own(await FakeTelegramServer.StartAsync());
        _apiSettings = new Dictionary<string, string>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Data__Root"] = _work,
            ["Relay__Transport"] = "Direct",
            ["Relay__Keys__0__Id"] = "1",
            ["Relay__Keys__0__Key"] = _key,
            ["Relay__HeartbeatInterval"] = "00:00:00.300",
            ["Relay__WorkerTimeout"] = "00:00:05",
            ["Telegram__BotToken"] = _telegram.Token,
            ["Telegram__ApiBaseUrl"] = _telegram.BaseUrl,
            ["Telegram__PollTimeoutSeconds"] = "1",
        };
        foreach (var (key, value) in database.Settings)
        {
            _apiSettings[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }
    }

    [TearDown]
    public async Task TearDown()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        _owned.Clear();
        Directory.Delete(_work, recursive: true);
    }

    [Test]
    public async Task ATelegramMembersQuestion_GetsExactlyOneAnswer_FromTheModelHostThatDialledIn()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var chat = _telegram.PrivateChat(alice);
        _apiSettings["Telegram__AllowedChatIds"] = chat.Id.ToString(CultureInfo.InvariantCulture);
        var token = HostToken().Match(await RunVerbAsync("hosts", "add", "studio-mac")).Value;
        var setup = Uri.UnescapeDataString(SetupToken().Match(await RunVerbAsync("admin", "setup-link")).Groups[1].Value);
        Assert.That(token, Is.Not.Empty, "hosts add printed the host's token");
        var api = Own(HostProcess.Start("API", "MeatLizard.Presentation.Api", _work, _apiSettings));
        var address = await api.ListeningAsync(ProcessStart);
        var engine = new ScriptedEngine { Reply = r => $"Direct says: {r.Turns[^1].Content}" };
        Own(await DirectClientBot.StartAsync(address, _key, token, engine));
        await WaitForTheHostAsync(address, api);

        var question = _telegram.Say(alice, chat, "what do lizards eat");
        var answer = await FinalAnswerAsync(chat);
        // Time for a second reply, a late notice or a second poller to show.
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.That(answer.Text, Is.EqualTo("Direct says: what do lizards eat"), "the model's answer, not a notice");
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
        Assert.That(_telegram.BotMessages(chat), Has.Count.EqualTo(1), "exactly one answer");
        Assert.That(engine.Requests, Has.Count.EqualTo(1), "asked of the model once");
        Assert.That(_telegram.PollConflicts, Is.Zero, "one process polls Telegram");
        Assert.That(api.Printed("Discord"), Is.False, api.Output);

        // The same API still answers its own callers over HTTP: outside a Telegram question, the caller is the request's.
        using var web = await SignInOperatorAsync(address, setup);
        var created = await web.PostAsJsonAsync("api/v1/sessions", new { title = "web" });
        var chatId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var sent = await web.PostAsJsonAsync($"api/v1/sessions/{chatId}/send?wait=true", new { content = "and from the web" });
        var webAnswer = await sent.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(webAnswer.GetProperty("source").GetString(), Is.EqualTo("model"), webAnswer.ToString());
        Assert.That(webAnswer.GetProperty("content").GetString(), Is.EqualTo("Direct says: and from the web"));
        Assert.That(_telegram.BotMessages(chat), Has.Count.EqualTo(1), "the web's answer went to the web only");
    }

    /// <summary>
    /// Two API instances relaying side by side on PostgreSQL and Redis, as behind a load balancer (issue 39: several
    /// instances need both, so it runs on PostgreSQL alone: <see cref="NoDiscordTwoInstancesTests"/>): the first takes
    /// the Telegram duty (one process polls), the model host dials the second. A member's question, taken in at the
    /// first, gets one answer from the host connected to the second, and a web caller at the first gets the model's
    /// answer from it too.
    /// </summary>
    internal async Task TwoRelayingInstancesAsync()
    {
        Assert.That(storage, Is.EqualTo(StorageProvider.Postgres), "several instances share PostgreSQL and Redis");
        var alice = _telegram.AddUser("Alice", "alice_l");
        var chat = _telegram.PrivateChat(alice);
        _apiSettings["Telegram__AllowedChatIds"] = chat.Id.ToString(CultureInfo.InvariantCulture);
        var token = HostToken().Match(await RunVerbAsync("hosts", "add", "studio-mac")).Value;
        var setup = Uri.UnescapeDataString(SetupToken().Match(await RunVerbAsync("admin", "setup-link")).Groups[1].Value);
        var first = Own(HostProcess.Start("API #1", "MeatLizard.Presentation.Api", _work, _apiSettings));
        var atFirst = await first.ListeningAsync(ProcessStart);
        await Polled.UntilAsync(() => Task.FromResult(_telegram.Polls), polls => polls > 0, "the first instance polls Telegram",
            ProcessStart);
        // A data folder of its own, as on another machine; the access tokens' keys are shared through PostgreSQL.
        var secondWork = Directory.CreateDirectory(Path.Combine(_work, "second")).FullName;
        var second = Own(HostProcess.Start("API #2", "MeatLizard.Presentation.Api", secondWork,
            new Dictionary<string, string>(_apiSettings) { ["Data__Root"] = secondWork }));
        var atSecond = await second.ListeningAsync(ProcessStart);
        var engine = new ScriptedEngine { Reply = r => $"Direct says: {r.Turns[^1].Content}" };
        Own(await DirectClientBot.StartAsync(atSecond, _key, token, engine));
        await WaitForTheHostAsync(atFirst, second);

        var question = _telegram.Say(alice, chat, "what do lizards eat");
        var answer = await FinalAnswerAsync(chat);
        using var web = await SignInOperatorAsync(atFirst, setup);
        var created = await web.PostAsJsonAsync("api/v1/sessions", new { title = "web" });
        var chatId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var sent = await web.PostAsJsonAsync($"api/v1/sessions/{chatId}/send?wait=true", new { content = "and from the web" });
        var webAnswer = await sent.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(answer.Text, Is.EqualTo("Direct says: what do lizards eat"), "the model's answer, not a notice");
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
        Assert.That(webAnswer.GetProperty("content").GetString(), Is.EqualTo("Direct says: and from the web"), webAnswer.ToString());
        Assert.That(_telegram.BotMessages(chat), Has.Count.EqualTo(1), "exactly one answer");
        Assert.That(engine.Requests, Has.Count.EqualTo(2), "each question asked of the model once");
        Assert.That(_telegram.PollConflicts, Is.Zero, "one process polls Telegram");
    }

    [Test]
    public async Task Embedded_TheApiAlone_AnswersATelegramMembersQuestionOnce_WithItsOwnModel()
    {
        await using var upstream = LoopbackChatServer.Start();
        var alice = _telegram.AddUser("Alice", "alice_l");
        var chat = _telegram.PrivateChat(alice);
        _apiSettings.Remove("Relay__Transport");
        _apiSettings["Inference__Engine"] = "OpenAiCompatible";
        _apiSettings["Inference__OpenAiCompatible__BaseUrl"] = upstream.BaseUrl.ToString();
        _apiSettings["Inference__OpenAiCompatible__Models__0"] = "lizard";
        _apiSettings["Inference__DefaultModel"] = "lizard";
        _apiSettings["Telegram__AllowedChatIds"] = chat.Id.ToString(CultureInfo.InvariantCulture);
        var api = Own(HostProcess.Start("API", "MeatLizard.Presentation.Api", _work, _apiSettings));
        await WaitForTheHostAsync(await api.ListeningAsync(ProcessStart), api);

        var question = _telegram.Say(alice, chat, "hello lizard");
        var answer = await FinalAnswerAsync(chat);
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.That(answer.Text, Is.EqualTo("Hello there"), "the model's answer, not a notice");
        Assert.That(answer.ReplyTo?.MessageId, Is.EqualTo(question.MessageId));
        Assert.That(_telegram.BotMessages(chat), Has.Count.EqualTo(1), "exactly one answer");
        Assert.That(upstream.Completions.Count(), Is.EqualTo(1), "asked of the model once");
        Assert.That(_telegram.PollConflicts, Is.Zero, "one process polls Telegram");
    }

    /// <summary>Runs one of the API host's verbs with the deployment's settings; returns what it printed.</summary>
    private async Task<string> RunVerbAsync(params string[] verb)
    {
        await using var process = HostProcess.Start(string.Join(' ', verb), "MeatLizard.Presentation.Api", _work, _apiSettings, verb);
        Assert.That(await process.WaitForExitAsync(ProcessStart), Is.Zero, process.Output);
        return process.Output;
    }

    private static async Task WaitForTheHostAsync(Uri api, HostProcess process)
    {
        using var http = new HttpClient { BaseAddress = api };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await http.GetFromJsonAsync<JsonElement>("api/v1/status")).GetProperty("workersOnline").GetInt32() == 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"the client bot never reached the API{Environment.NewLine}{process.Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>The first admin, registered with the setup link's token as an operator does, signed in.</summary>
    private static async Task<HttpClient> SignInOperatorAsync(Uri api, string setupToken)
    {
        var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        (await http.PostAsJsonAsync("api/v1/auth/register", new { username = "operator", password = Password, setupToken }))
            .EnsureSuccessStatusCode();
        var login = await http.PostAsJsonAsync("api/v1/auth/login", new { username = "operator", password = Password });
        login.EnsureSuccessStatusCode();
        var access = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", access);
        return http;
    }

    /// <summary>The bot's first message in the chat once it no longer shows the "writing" mark.</summary>
    private async Task<FakeMessage> FinalAnswerAsync(FakeChat chat)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_telegram.BotMessages(chat) is [var first, ..] && !first.Text.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal))
            {
                return first;
            }

            await Task.Delay(50);
        }

        Assert.Fail("No final answer in Telegram; the bot posted: " + string.Join(" | ", _telegram.BotMessages(chat).Select(m => m.Text)));
        return null!;
    }

    private T Own<T>(T owned) where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    [GeneratedRegex(@"mlh_\S+")]
    private static partial Regex HostToken();

    [GeneratedRegex(@"setup\?token=(\S+)")]
    private static partial Regex SetupToken();
}

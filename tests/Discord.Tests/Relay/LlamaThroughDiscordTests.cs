using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// A full chat through both bots, composed as their hosts compose them, over the fake Discord, with the client bot's
/// worker running the real llama.cpp engine (a managed llama-server on the model scripts/test-services/llama.sh makes).
/// </summary>
[NonParallelizable]
public sealed class LlamaThroughDiscordTests
{
    private const string Prompt = "Where do the meat lizards of the northern desert sleep at night?";

    private TwoBots _bots = null!;

    [SetUp]
    public async Task SetUp() => _bots = await TwoBots.CreateAsync();

    [TearDown]
    public async Task TearDown()
    {
        try
        {
            Assert.That(_bots.Fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        }
        finally
        {
            await _bots.DisposeAsync();
        }
    }

    [Test]
    public async Task AChat_ThroughBothBots_IsAnsweredByLlamaCpp_StreamedAndStored_AndDiscordSeesOnlyCiphertext()
    {
        _bots.Extra["Inference:Engine"] = "LlamaServer";
        _bots.Extra["Inference:LlamaCppDir"] = Required("MEATLIZARD_LLAMA_DIR");
        _bots.Extra["Inference:ModelPath"] = Required("MEATLIZARD_TEST_MODEL");
        _bots.Extra["Inference:ContextSize"] = "1024";
        _bots.Extra["Inference:MaxTokens"] = "48";
        _bots.Extra["Inference:Threads"] = "2";
        _bots.Extra["Inference:Seed"] = "7";
        _bots.Extra["Relay:AckTimeout"] = "00:00:30";
        _bots.Extra["Relay:CompletionTimeout"] = "00:02:00";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        await WaitForAReadyEngineAsync(TimeSpan.FromSeconds(120));
        var chat = await _bots.StartChatAsync();
        await using var events = await _bots.Server!.Services.GetRequiredService<IChatEvents>().SubscribeAsync(chat, CancellationToken.None);
        var seen = new List<ChatEvent>();
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var collecting = Task.Run(async () =>
        {
            await foreach (var e in events.ReadAllAsync(reading.Token))
            {
                lock (seen)
                {
                    seen.Add(e);
                }

                if (e.Type == ChatEventTypes.Message && e.Message?.Role == "assistant")
                {
                    return;
                }
            }
        });

        var sent = await _bots.SendAsync(new SendMessage(chat, Prompt));
        await collecting;

        var page = await _bots.SendAsync(new GetMessages(chat, null));
        var stored = page.Messages.Single(m => m.RequestId == sent.RequestId && m.Role == "assistant");
        Assert.That(stored.Source, Is.EqualTo("model"), "answered by llama.cpp, not the fallback");
        Assert.That(stored.Content, Has.Length.GreaterThanOrEqualTo(12), "the model wrote an answer");
        List<ChatEvent> streamedEvents;
        lock (seen)
        {
            streamedEvents = [.. seen.Where(e => e.Type == ChatEventTypes.Delta && e.RequestId == sent.RequestId)];
        }

        Assert.That(streamedEvents, Is.Not.Empty, "the answer was streamed while generated");
        var streamed = string.Concat(streamedEvents.OrderBy(e => e.Seq).Select(e => e.Text));
        Assert.That(stored.Content.StartsWith(streamed, StringComparison.Ordinal), Is.True,
            $"the deltas ({streamed.Length} chars) begin the stored answer ({stored.Content.Length} chars)");
        Assert.That(seen.Last().Message!.Content, Is.EqualTo(stored.Content), "the final event carries what was stored");

        TestContext.Out.WriteLine($"{streamedEvents.Count} deltas, {streamed.Length} of {stored.Content.Length} characters streamed");

        var channel = _bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var messages = _bots.Fake.Messages(channel);
        Assert.That(messages.Where(m => m.AuthorId == _bots.ClientBot.UserId), Is.Not.Empty, "the answer came over Discord");
        Assert.That(messages.Where(m => m.Attachment is null).Select(m => m.Content), Has.All.StartWith("ML1."));
        var everything = _bots.Fake.AllMessages().Select(m => m.Content)
            .Concat(_bots.Fake.AllMessages().Where(m => m.Attachment is not null)
                .Select(m => System.Text.Encoding.UTF8.GetString(m.Attachment!.Content)))
            .Concat(_bots.Fake.Requests.Select(r => r.Body ?? ""))
            .ToList();
        Assert.That(everything, Has.None.Contains("meat lizards"), "the prompt never appears in the clear");
        Assert.That(everything, Has.None.Contains(stored.Content), "the reply never appears in the clear");
        Assert.That(everything, Has.None.Contains(stored.Content[..12]), "nor its beginning");
        Assert.That(_bots.Fake.Requests.Any(r => r.Template == "/channels/{channel_id}/typing" && r.BotUserId == _bots.ClientBot.UserId),
            Is.True, "the client bot showed it was typing while llama.cpp generated");
    }

    private async Task WaitForAReadyEngineAsync(TimeSpan within)
    {
        var presence = _bots.Server!.Services.GetRequiredService<IWorkerPresence>();
        var deadline = DateTime.UtcNow + within;
        while (!(await presence.ListAliveAsync(CancellationToken.None)).Any(w => w.EngineReady && w.Engine == "LlamaServer"))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"the client bot's llama-server did not report ready within {within}");
            await Task.Delay(100);
        }
    }

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set: run ./test.sh, which builds llama.cpp and the test model (scripts/test-services/llama.sh).");
}

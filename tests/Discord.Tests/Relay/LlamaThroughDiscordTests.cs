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
public sealed class LlamaThroughDiscordTests : TwoBotsTest
{
    private const string Prompt = "Where do the meat lizards of the northern desert sleep at night?";

    [Test]
    public async Task AChat_ThroughBothBots_IsAnsweredByLlamaCpp_StreamedAndStored_AndDiscordSeesOnlyCiphertext()
    {
        UseLlama(Bots);
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await WaitForAReadyEngineAsync(Bots, TimeSpan.FromSeconds(120));
        var chat = await Bots.StartChatAsync();
        await using var events = await Bots.Server!.Services.GetRequiredService<IChatEvents>().SubscribeAsync(chat, CancellationToken.None);
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

        var sent = await Bots.SendAsync(new SendMessage(chat, Prompt));
        await collecting;

        var page = await Bots.SendAsync(new GetMessages(chat, null));
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

        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var messages = Bots.Fake.Messages(channel);
        Assert.That(messages.Where(m => m.AuthorId == Bots.ClientBot.UserId), Is.Not.Empty, "the answer came over Discord");
        Assert.That(messages.Where(m => m.Attachment is null).Select(m => m.Content), Has.All.StartWith("ML1."));
        var everything = Bots.Fake.AllMessages().Select(m => m.Content)
            .Concat(Bots.Fake.AllMessages().Where(m => m.Attachment is not null)
                .Select(m => System.Text.Encoding.UTF8.GetString(m.Attachment!.Content)))
            .Concat(Bots.Fake.Requests.Select(r => r.Body ?? ""))
            .ToList();
        Assert.That(everything, Has.None.Contains("meat lizards"), "the prompt never appears in the clear");
        Assert.That(everything, Has.None.Contains(stored.Content), "the reply never appears in the clear");
        Assert.That(everything, Has.None.Contains(stored.Content[..12]), "nor its beginning");
        Assert.That(Bots.Fake.Requests.Any(r => r.Template == "/channels/{channel_id}/typing" && r.BotUserId == Bots.ClientBot.UserId),
            Is.True, "the client bot showed it was typing while llama.cpp generated");
    }

    [Test]
    public async Task AMemberMentioningTheServerBot_IsAnsweredByLlamaCpp_AsAReplyInTheSameChannel()
    {
        UseLlama(Bots);
        var channel = Bots.Fake.CreateChannel("chat-with-the-model");
        var member = Bots.Fake.AddMember("alice");
        Bots.Extra["Discord:ChatChannelIds"] = channel.Id;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        await WaitForAReadyEngineAsync(Bots, TimeSpan.FromSeconds(120));

        var question = Bots.Fake.PostAsMember(member, channel.Id, $"<@{Bots.ServerBot.UserId}> {Prompt}");

        FakeMessage? reply = null;
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
                (reply = Bots.Fake.RepliesTo(channel.Id, question.Id).FirstOrDefault(m => m.AuthorId == Bots.ServerBot.UserId)) is { } r
                && !r.Content.EndsWith(Application.Channels.ChannelTexts.Writing, StringComparison.Ordinal),
            TimeSpan.FromSeconds(150)), Is.True, "the server bot replied to the member and finished");
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        var chat = await scope.ServiceProvider.GetRequiredService<IChannelConversationStore>()
            .FindByPostedMessageAsync("discord", channel.Id, reply!.Id, CancellationToken.None);
        var answer = (await scope.ServiceProvider.GetRequiredService<IChatReadModel>().GetTranscriptAsync(chat!.Value, false, CancellationToken.None))
            .Last();
        Assert.That(answer.Role, Is.EqualTo("assistant"));
        Assert.That(reply.Content, Is.EqualTo(answer.Content), "the reply shows the stored answer");
        Assert.That(answer.Content, Has.Length.GreaterThanOrEqualTo(12), "llama.cpp wrote an answer");
        Assert.That(reply.Content, Does.Not.StartWith(Application.Channels.ChannelTexts.NoticeMark)
            .And.Not.StartWith(Application.Channels.ChannelTexts.FallbackMark), "answered by the model, not a fallback");
    }

    /// <summary>The client bot runs the real llama.cpp engine (a managed llama-server) on the generated test model.</summary>
    internal static void UseLlama(TwoBots bots)
    {
        bots.Extra["Inference:Engine"] = "LlamaServer";
        bots.Extra["Inference:LlamaCppDir"] = Required("MEATLIZARD_LLAMA_DIR");
        bots.Extra["Inference:ModelPath"] = Required("MEATLIZARD_TEST_MODEL");
        bots.Extra["Inference:ContextSize"] = "1024";
        bots.Extra["Inference:MaxTokens"] = "48";
        bots.Extra["Inference:Threads"] = "2";
        bots.Extra["Inference:Seed"] = "7";
        bots.Extra["Relay:AckTimeout"] = "00:00:30";
        bots.Extra["Relay:CompletionTimeout"] = "00:02:00";
    }

    internal static async Task WaitForAReadyEngineAsync(TwoBots bots, TimeSpan within)
    {
        var presence = bots.Server!.Services.GetRequiredService<IHostPresence>();
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

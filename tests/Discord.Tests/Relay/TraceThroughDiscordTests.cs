using System.Diagnostics;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>A message's W3C trace crosses the Discord relay inside the encrypted body, to the client bot's job.</summary>
public sealed class TraceThroughDiscordTests : TwoBotsTest
{
    private const string TraceId = "7d3f5a1b9c2e4f60a8b7c6d5e4f3a2b1";
    private const string SpanId = "1a2b3c4d5e6f7081";

    [Test]
    public async Task TheClientBotsJob_RunsInTheSendersTrace_AndDiscordNeverSeesIt()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        string? seenByWorker = null;
        Bots.Engine.Reply = _ =>
        {
            seenByWorker = Activity.Current?.TraceId.ToHexString();
            return "traced answer";
        };

        using (new Activity("test send").SetParentId($"00-{TraceId}-{SpanId}-01").Start())
        {
            Assert.That((await Bots.AskAsync(chat, "follow the trace")).Content, Is.EqualTo("traced answer"));
        }

        Assert.That(seenByWorker, Is.EqualTo(TraceId), "the client bot answers inside the message's trace");
        var seenByDiscord = Bots.Fake.Requests.Select(r => r.Path + " " + r.Body)
            .Concat(Bots.Fake.AllMessages().Select(m => m.Content));
        Assert.That(seenByDiscord, Has.None.Contains(TraceId).And.None.Contains(SpanId));
    }
}

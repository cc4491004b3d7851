using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Chat;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Chat;

/// <summary>Discord as a chat network: what a post of an answer's reply does on Discord's side.</summary>
public sealed class DiscordChatAdapterTests
{
    private FakeDiscordServer _fake = null!;
    private FakeChannel _chat = null!;
    private string _alice = null!;
    private DiscordChatAdapter _adapter = null!;

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        var bot = _fake.AddBot("meatlizard-server");
        _chat = _fake.CreateChannel("chat-with-the-model");
        _alice = _fake.AddMember("alice");
        _adapter = new DiscordChatAdapter(FakeDiscordKit.Rest(_fake, bot), FakeDiscordKit.Options(_fake, bot));
    }

    [TearDown]
    public async Task TearDown()
    {
        Assert.That(_fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        await _fake.DisposeAsync();
    }

    [Test]
    public async Task AReplyPostedAgain_ToTheSameMessage_IsTheFirstReply_ShowingTheNewText()
    {
        // A server bot stopped right after posting an answer's first reply, before it noted the reply's id; the other
        // server bot (the same Discord bot) finishing the answer posts its first reply again. Before, that was a second
        // reply, and the first stayed "writing…" forever (DiscordChatTests.WithTwoServerBots_TheOneAnsweringStops…).
        var question = _fake.PostAsMember(_alice, _chat.Id, "count for me");

        var first = await _adapter.PostAsync(_chat.Id, question.Id, "w0 ▍", CancellationToken.None);
        var again = await _adapter.PostAsync(_chat.Id, question.Id, "w0 w1 w2", CancellationToken.None);

        Assert.That(again, Is.EqualTo(first), "the reply posted first");
        var replies = _fake.RepliesTo(_chat.Id, question.Id).ToList();
        Assert.That(replies.Select(m => m.Content), Is.EqualTo(new[] { "w0 w1 w2" }), "one reply, showing the text posted last");
    }

    [Test]
    public async Task RepliesToDifferentMessages_AreEachTheirOwn()
    {
        var one = _fake.PostAsMember(_alice, _chat.Id, "first question");
        var two = _fake.PostAsMember(_alice, _chat.Id, "second question");

        var toOne = await _adapter.PostAsync(_chat.Id, one.Id, "the same words", CancellationToken.None);
        var toTwo = await _adapter.PostAsync(_chat.Id, two.Id, "the same words", CancellationToken.None);
        var plain = await _adapter.PostAsync(_chat.Id, null, "the same words", CancellationToken.None);
        var plainAgain = await _adapter.PostAsync(_chat.Id, null, "the same words", CancellationToken.None);

        Assert.That(new[] { toOne, toTwo, plain, plainAgain }.Distinct().Count(), Is.EqualTo(4),
            "a reply is one per message replied to; a message that replies to none is posted each time");
    }
}

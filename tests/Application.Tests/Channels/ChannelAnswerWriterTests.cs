using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Domain.Common;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

public class ChannelAnswerWriterTests
{
    private readonly ChatId _chat = ChatId.New();
    private RecordingAdapter _adapter = null!;
    private Mock<IChannelConversationStore> _store = null!;

    [SetUp]
    public void SetUp()
    {
        _adapter = new RecordingAdapter();
        _store = new Mock<IChannelConversationStore>();
    }

    private ChannelAnswerWriter Writer() => new(_adapter, _store.Object, "chan", "question", _chat);

    [Test]
    public async Task TheFirstPart_IsAReplyToTheQuestion_AndLaterShowsEditIt()
    {
        var writer = Writer();

        await writer.ShowAsync("Hello", CancellationToken.None);
        await writer.ShowAsync("Hello there", CancellationToken.None);
        await writer.ShowAsync("Hello there", CancellationToken.None);

        Assert.That(_adapter.Calls, Is.EqualTo(new[] { "post m1 reply-to question: Hello", "edit m1: Hello there" }));
    }

    [Test]
    public async Task EveryPostedPart_IsRememberedAsTheChats_SoARepliesToAnyPartContinuesIt()
    {
        var writer = Writer();
        var text = string.Join("\n\n", Enumerable.Range(0, 6).Select(i => new string((char)('a' + i), 90)));

        await writer.ShowAsync(text, CancellationToken.None);

        Assert.That(writer.PostedIds, Has.Count.EqualTo(3));
        Assert.That(_adapter.Calls[1], Does.StartWith("post m2 reply-to m1:"), "a further part replies to the one before");
        foreach (var id in writer.PostedIds)
        {
            _store.Verify(s => s.RememberPostedAsync("test", "chan", id, _chat, It.IsAny<CancellationToken>()), Times.Once);
        }
    }

    [Test]
    public async Task BlankText_PostsNothing()
    {
        await Writer().ShowAsync("  \n", CancellationToken.None);

        Assert.That(_adapter.Calls, Is.Empty);
    }

    [Test]
    public async Task APartNoLongerNeeded_IsEmptiedRatherThanLeftStale()
    {
        var writer = Writer();
        await writer.ShowAsync(new string('a', 150) + "\n\n" + new string('b', 150), CancellationToken.None);

        await writer.ShowAsync("short now", CancellationToken.None);

        Assert.That(_adapter.Calls[^2..], Is.EqualTo(new[] { "edit m1: short now", "edit m2: " + ChannelAnswerWriter.Continued }));
    }

    [Test]
    public void AFallbackOrNotice_IsVisiblyMarked_AModelAnswerIsNot()
    {
        Assert.That(ChannelTexts.Marked("fallback", "words"), Does.StartWith(ChannelTexts.FallbackMark).And.EndWith("words"));
        Assert.That(ChannelTexts.Marked("notice", "offline"), Does.StartWith(ChannelTexts.NoticeMark).And.EndWith("offline"));
        Assert.That(ChannelTexts.Marked("model", "answer"), Is.EqualTo("answer"));
    }

    [TestCase("guild", "This server")]
    [TestCase("user", "You are asking too fast")]
    public void ARateLimit_IsExplainedNamingWhoseLimit(string scope, string expected) =>
        Assert.That(ChannelTexts.RateLimited(scope, TimeSpan.FromSeconds(2.2)), Does.StartWith(expected).And.Contain("3 s"));

    /// <summary>A network of 200 characters per message that numbers what it posts.</summary>
    private sealed class RecordingAdapter : IChannelAdapter
    {
        public List<string> Calls { get; } = [];

        public string Network => "test";

        public int MaxMessageLength => 200;

        public TimeSpan MinEditInterval => TimeSpan.FromSeconds(1);

        public TimeSpan TypingInterval => TimeSpan.FromSeconds(8);

        public Task<string> PostAsync(string chatId, string? replyToMessageId, string text, CancellationToken cancellationToken)
        {
            var id = "m" + (Calls.Count(c => c.StartsWith("post", StringComparison.Ordinal)) + 1);
            Calls.Add($"post {id} reply-to {replyToMessageId}: {text}");
            return Task.FromResult(id);
        }

        public Task EditAsync(string chatId, string messageId, string text, CancellationToken cancellationToken)
        {
            Calls.Add($"edit {messageId}: {text}");
            return Task.CompletedTask;
        }

        public Task ShowTypingAsync(string chatId, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

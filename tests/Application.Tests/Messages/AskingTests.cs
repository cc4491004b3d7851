using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Messages;

/// <summary>The one way a question is queued, for a question that starts its chat (an OpenAI conversation, a mention).</summary>
public class AskingTests
{
    private TestPorts _ports = null!;
    private User _alice = null!;
    private List<Chat> _added = null!;

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _added = _ports.RememberChatsStarted();
    }

    private static Question InNewChat(string text, params EarlierTurn[] earlier) =>
        new(new InNewChat(ModelName.From("alpha"), null, earlier), PromptText.From(text), SamplingParameters.Default,
            GenerationOptions.None, "test");

    private void VerifyChatCreation(Times taken, Times givenBack)
    {
        _ports.RateLimiter.Verify(r => r.TryAcquireAsync(RateLimitScope.ChatCreation, _alice.Id.ToString(),
            It.IsAny<CancellationToken>()), taken);
        _ports.RateLimiter.Verify(r => r.GiveBackAsync(RateLimitScope.ChatCreation, _alice.Id.ToString(),
            It.IsAny<CancellationToken>()), givenBack);
    }

    [Test]
    public async Task ANewChat_HoldsItsEarlierTurns_IsTitledAfterTheFirstQuestion_AndHasTheQuestionQueued()
    {
        var asked = await _ports.Asking.AskAsync(_alice, InNewChat("and then?",
            new EarlierTurn(MessageRole.User, "tell me about lizards"), new EarlierTurn(MessageRole.Assistant, "they bask")),
            CancellationToken.None);

        Assert.That(_added, Has.Count.EqualTo(1));
        Assert.That(asked.Chat.Id, Is.EqualTo(_added[0].Id));
        Assert.That(asked.Chat.Title.Value, Is.EqualTo("tell me about lizards"));
        Assert.That(asked.Chat.Model?.Value, Is.EqualTo("alpha"));
        Assert.That(_ports.StoredMessages.Select(m => (m.Role, m.Content)), Is.EqualTo(new[]
        {
            (MessageRole.User, "tell me about lizards"), (MessageRole.Assistant, "they bask"), (MessageRole.User, "and then?"),
        }));
        Assert.That(_ports.Journal, Is.EqualTo(new[]
        {
            "begin", "add message:User (tx)", "add message:Model (tx)", "add message:User (tx)", "add request:Pending (tx)",
            "commit",
        }), "the chat, its earlier turns, the question and its request in one transaction, with no read before it");
        _ports.Sessions.Verify(s => s.GetWithAnswerStateAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()),
            Times.Never);
        _ports.Requests.Verify(r => r.TryQueueAsync(It.IsAny<Chat>(), It.IsAny<string>(), It.IsAny<Message>(),
            It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(_ports.Published.Select(e => e.Status), Is.EqualTo(new[] { AnswerStatuses.Queued }));
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
        VerifyChatCreation(Times.Once(), Times.Never());
    }

    [Test]
    public void ANewChatsQuestion_RefusedByAFullModelQueue_WritesNothing_AndCostsNoChat()
    {
        _ports.RelayOptions.MaxQueuePerModel = 2;
        _ports.Reads.Setup(r => r.CountWaitingForModelAsync("alpha", false, It.IsAny<CancellationToken>())).ReturnsAsync(2);

        Assert.ThrowsAsync<ServiceUnavailableException>(() =>
            _ports.Asking.AskAsync(_alice, InNewChat("hello?"), CancellationToken.None));

        Assert.That(_added, Is.Empty, "refused before the chat was stored");
        Assert.That(_ports.StoredMessages, Is.Empty);
        VerifyChatCreation(Times.Never(), Times.Never());
    }

    [Test]
    public void ANewChatWhoseQuestionCannotBeStored_LeavesNothing_AndGivesItsChatCreationTokenBack()
    {
        _ports.Requests.Setup(r => r.AddAsync(It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("the database went away"));

        Assert.ThrowsAsync<InvalidOperationException>(() =>
            _ports.Asking.AskAsync(_alice, InNewChat("hello?"), CancellationToken.None));

        Assert.That(_ports.Journal, Does.Contain("rollback"), "the chat was stored in the question's transaction");
        Assert.That(_ports.Journal, Does.Not.Contain("commit"));
        VerifyChatCreation(Times.Once(), Times.Once());
        Assert.That(_ports.Published, Is.Empty);
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never);
    }

    [Test]
    public async Task TheNextQuestionInANewChat_IsQueuedAgainstTheVersionItWasStoredWith_WithoutARead()
    {
        var first = await _ports.Asking.AskAsync(_alice, InNewChat("hello?"), CancellationToken.None);
        var now = DateTimeOffset.UtcNow;
        first.Request.Dispatch(now, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
        first.Request.Complete(MessageId.New(), now);

        var second = await _ports.Asking.AskAsync(_alice,
            new Question(new InChat(first.Chat.Id), PromptText.From("and then?"), SamplingParameters.Default,
                GenerationOptions.None, "test"), CancellationToken.None);

        Assert.That(second.Chat.Id, Is.EqualTo(first.Chat.Id));
        _ports.Sessions.Verify(s => s.GetWithAnswerStateAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()),
            Times.Never, "the version the chat was stored with is known");
        Assert.That(_ports.Journal, Does.Contain("queue message:User request:Pending"));
    }

    [Test]
    public void ANewChat_OverTheChatCreationLimit_IsRefused_StoringNothing()
    {
        _ports.RateLimiter.Setup(r => r.TryAcquireAsync(RateLimitScope.ChatCreation, It.IsAny<string>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(new RateLimitDecision(false, TimeSpan.FromSeconds(7)));

        var refused = Assert.ThrowsAsync<RateLimitedException>(() =>
            _ports.Asking.AskAsync(_alice, InNewChat("hello?"), CancellationToken.None));

        Assert.That(refused!.Scope, Is.EqualTo("chatcreation"));
        Assert.That(_added, Is.Empty);
        VerifyChatCreation(Times.Once(), Times.Never());
    }
}

using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// A question — a new chat's first, or one in a started chat — placed on a host in the write that stores it
/// (<see cref="Application.Relay.Dispatch.EarlyDispatch"/>) where the queue decides nothing, and left to the dispatcher
/// everywhere else.
/// </summary>
public class EarlyDispatchTests : RelayHandlerTestBase
{
    /// <summary>The in-process relay's reach, or the direct relay's: this process writes to the hosts' connections.</summary>
    private sealed class ReachesItsHosts : IRelayReach
    {
        public bool Reaches(Guid workerId) => true;

        public bool Judges(Guid workerId) => true;
    }

    [SetUp]
    public void UseTheRelayServersHandOff()
    {
        Ports.Reach = new ReachesItsHosts();
        Ports.HandOff = Ports.Relay<IQuestionHandOff>();
        Ports.RememberChatsStarted();
    }

    private static Question InNewChat(string text, params EarlierTurn[] earlier) =>
        new(new InNewChat(null, SystemPrompt.FromOptional("be brief"), earlier), PromptText.From(text), SamplingParameters.Default,
            GenerationOptions.None, "test");

    private Task<Asked> AskAsync(Question question) => Ports.Asking.AskAsync(Alice, question, CancellationToken.None);

    /// <summary>Stored pending, nothing sent, the dispatcher woken once for it: as every question before early dispatch.</summary>
    private void AssertLeftToTheDispatcher(Asked asked)
    {
        Assert.That(asked.Request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(Ports.EnvelopesSentToWorkers, Is.Empty);
        Ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
    }

    [Test]
    public async Task ANewChatsQuestion_ToTheOneHostThatTakesAnyNumber_IsStoredDispatched_InItsOwnTransaction_ThenSent()
    {
        var host = TestPorts.ReadyWorker();
        Ports.WorkersOnline(host);
        Ports.ClearJournal();

        var asked = await AskAsync(InNewChat("and then?", new EarlierTurn(MessageRole.User, "tell me about lizards"),
            new EarlierTurn(MessageRole.Assistant, "they bask")));

        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "begin", "add message:User (tx)", "add message:Model (tx)", "add message:User (tx)",
            "add request:Dispatched (tx)", "commit", "send:Request",
        }), "stored dispatched with its chat, then sent: no claim, no second write");
        Assert.That(asked.Request.WorkerId, Is.EqualTo(host.WorkerId));
        Assert.That(asked.Request.Attempts, Is.EqualTo(1));
        var sent = Ports.EnvelopesSentToWorkers.Single();
        Assert.That(sent.RequestId, Is.EqualTo(asked.RequestId));
        var body = sent.Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.SystemPrompt, Is.EqualTo("be brief"));
        Assert.That(body.Messages.Select(m => (m.Role, m.Content)), Is.EqualTo(new[]
        {
            ("user", "tell me about lizards"), ("assistant", "they bask"), ("user", "and then?"),
        }));
        Assert.That(Ports.Published.Select(e => e.Status), Is.EqualTo(new[] { AnswerStatuses.Queued, AnswerStatuses.Dispatched }),
            "queued before dispatched, as from the dispatcher");
        Ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never, "no dispatcher woken for it");
        Ports.Requests.Verify(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
        Ports.Requests.Verify(r => r.TryUpdateManyAsync(It.IsAny<IReadOnlyCollection<RelayRequest>>(),
            It.IsAny<RelayRequestStatus>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    /// <summary>
    /// A question placed on a host at once never waits in its model's queue: it is not refused for the queue's length,
    /// and the queue is not counted for it (one read of the database per question saved); a question that waits is.
    /// </summary>
    [Test]
    public async Task ANewChatsQuestion_PlacedOnTheOneHost_IsNotCountedAgainstItsModelsQueue_OneThatWaitsIs()
    {
        Ports.RelayOptions.MaxQueuePerModel = 1;
        Ports.Reads.Setup(r => r.CountWaitingForModelAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(1);
        Ports.WorkersOnline(TestPorts.ReadyWorker());

        var placed = await AskAsync(InNewChat("hello?"));

        Assert.That(placed.Request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Ports.Reads.Verify(r => r.CountWaitingForModelAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()),
            Times.Never, "placed at once: the queue is not counted");

        Ports.WorkersOnline(TestPorts.Host(1, "scripted"));
        Ports.Relay<ModelHosts>().ReadAgain();
        Assert.ThrowsAsync<MeatLizard.Application.Common.Exceptions.ServiceUnavailableException>(() => AskAsync(InNewChat("and you?")),
            "to a host with slot limits it would wait: the full queue refuses it");
    }

    [Test]
    public async Task AStartedChatsQuestion_PlacedOnTheOneHost_IsNotCountedAgainstItsModelsQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var chat = await StartedChatAsync();
        Ports.RelayOptions.MaxQueuePerModel = 1;
        Ports.Reads.Setup(r => r.CountWaitingForModelAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(1);

        var second = await AskAsync(InChat(chat.Id, "and then?"));

        Assert.That(second.Request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Ports.Reads.Verify(r => r.CountWaitingForModelAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()),
            Times.Never);
    }

    [Test]
    public async Task APlacedQuestion_IsSent_ThoughItsCallerLeavesAsItsQueuedEventGoesOut()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        using var caller = new CancellationTokenSource();
        Ports.Events.Setup(e => e.PublishAsync(It.Is<ChatEvent>(c => c.Status == AnswerStatuses.Queued), It.IsAny<CancellationToken>()))
            .Returns(() =>
            {
                caller.Cancel();
                return ValueTask.CompletedTask;
            });

        var asked = await Ports.Asking.AskAsync(Alice, InNewChat("hello?"), caller.Token);

        Assert.That(Ports.EnvelopesSentToWorkers.Single().RequestId, Is.EqualTo(asked.RequestId),
            "stored dispatched, so sent now rather than at its ack timeout");
    }

    [Test]
    public async Task APlacedQuestion_IsSent_ThoughItsQueuedEventCannotBePublished()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.Events.Setup(e => e.PublishAsync(It.Is<ChatEvent>(c => c.Status == AnswerStatuses.Queued), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("the fan-out went away"));

        Assert.ThrowsAsync<InvalidOperationException>(() => AskAsync(InNewChat("hello?")));

        Assert.That(Ports.Journal, Does.Contain("add request:Dispatched (tx)"));
        Assert.That(Ports.EnvelopesSentToWorkers.Count(), Is.EqualTo(1), "stored dispatched, so sent all the same");
    }

    [Test]
    public async Task AQuestionToHostsWithSlotLimits_WaitsInTheQueue_InItsPlace()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "scripted"));
        Ports.ClearJournal();

        var asked = await AskAsync(InNewChat("hello?"));

        Assert.That(Ports.Journal, Does.Contain("add request:Pending (tx)"));
        AssertLeftToTheDispatcher(asked);
    }

    [Test]
    public async Task AQuestionWithAChoiceOfHosts_WaitsInTheQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker(), TestPorts.ReadyWorker());

        var asked = await AskAsync(InNewChat("hello?"));

        AssertLeftToTheDispatcher(asked);
    }

    [Test]
    public async Task AQuestionToAHostReachedOverDiscord_WaitsInTheQueue_SoNoCallToDiscordHoldsItsCaller()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.HandOff = new MeatLizard.Application.Relay.Dispatch.EarlyDispatch(
            new ModelHosts(Ports.Presence.Object, Ports.Clock), Ports.Relay<MeatLizard.Application.Relay.Dispatch.DispatchPlanner>(),
            Ports.Relay<MeatLizard.Application.Relay.Dispatch.RequestSender>(), Ports.Relay<RelayWay>(),
            Ports.QueueSignal.Object, Ports.Reads.Object, Microsoft.Extensions.Options.Options.Create(Ports.RelayOptions));

        var asked = await AskAsync(InNewChat("hello?"));

        AssertLeftToTheDispatcher(asked);
    }

    [Test]
    public async Task AQuestionWithNoHostOnline_WaitsForTheDispatcher_WhichDecidesItsFallback()
    {
        Ports.WorkersOnline();

        var asked = await AskAsync(InNewChat("hello?"));

        AssertLeftToTheDispatcher(asked);
    }

    [Test]
    public async Task AQuestionWhileTheWayToTheHostsIsOut_WaitsInTheQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.Transport.Unreachable(TimeSpan.Zero);

        var asked = await AskAsync(InNewChat("hello?"));

        AssertLeftToTheDispatcher(asked);
    }

    private static Question InChat(ChatId chat, string text) =>
        new(new InChat(chat), PromptText.From(text), SamplingParameters.Default, GenerationOptions.None, "test");

    private static readonly ChatTurn[] s_earlierTurns =
        [new ChatTurn(MessageRole.User, "hello?"), new ChatTurn(MessageRole.Assistant, "hi")];

    /// <summary>A chat whose first question was answered (<see cref="s_earlierTurns"/>): started, nothing under way.</summary>
    private async Task<Chat> StartedChatAsync()
    {
        var first = await AskAsync(InNewChat("hello?"));
        first.Request.Acknowledge(Ports.Clock.UtcNow);
        first.Request.Complete(MessageId.New(), Ports.Clock.UtcNow);
        Ports.History(first.Chat.Id, s_earlierTurns);
        Ports.ClearJournal();
        return first.Chat;
    }

    private IEnumerable<RelayEnvelope> SentFor(Asked asked) =>
        Ports.EnvelopesSentToWorkers.Where(e => e.RequestId == asked.RequestId);

    [Test]
    public async Task AQuestionInAStartedChat_ToTheOneHostThatTakesAnyNumber_IsPlacedWithItsTurnsReadAfterTheChat_AndStoredDispatched()
    {
        var host = TestPorts.ReadyWorker();
        Ports.WorkersOnline(host);
        var chat = await StartedChatAsync();
        var reads = new List<string>();
        Ports.Sessions.Setup(s => s.GetWithAnswerStateAsync(chat.Id, It.IsAny<CancellationToken>()))
            .Callback(() => reads.Add("chat"))
            .ReturnsAsync(() => new ChatAnswerState(chat, false, Ports.SessionVersion(chat.Id)));
        Ports.Reads.Setup(r => r.GetRecentTurnsAsync(chat.Id, It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .Callback(() => reads.Add("turns"))
            .ReturnsAsync(s_earlierTurns);

        var second = await AskAsync(InChat(chat.Id, "and then?"));

        Assert.That(reads, Is.EqualTo(new[] { "chat", "turns" }),
            "the chat read, not remembered, and its turns after it: the write on the version read keeps them as read");
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "queue message:User request:Dispatched", "send:Request" }),
            "stored dispatched in the question's one write, then sent: no claim, no second write");
        Assert.That(second.Request.WorkerId, Is.EqualTo(host.WorkerId));
        var body = SentFor(second).Single().Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.Messages.Select(m => (m.Role, m.Content)), Is.EqualTo(new[]
        {
            ("user", "hello?"), ("assistant", "hi"), ("user", "and then?"),
        }));
        Assert.That(Ports.Published.Where(e => e.RequestId == second.RequestId).Select(e => e.Status),
            Is.EqualTo(new[] { AnswerStatuses.Queued, AnswerStatuses.Dispatched }));
        Ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never, "no dispatcher woken for either question");
    }

    [Test]
    public async Task AStartedChatsQuestion_WhoseChatChangedBeforeItsWrite_IsPlacedAgainOnTheNextRead_AndSentOnce()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var chat = await StartedChatAsync();
        var turnsRead = 0;
        Ports.Reads.Setup(r => r.GetRecentTurnsAsync(chat.Id, It.IsAny<int>(), It.IsAny<CancellationToken>()))
            .Returns(() =>
            {
                if (++turnsRead == 1)
                {
                    Ports.ChangedElsewhere(chat.Id); // renamed at another instance between the read and the write
                }

                return Task.FromResult<IReadOnlyList<ChatTurn>>(s_earlierTurns);
            });

        var second = await AskAsync(InChat(chat.Id, "and then?"));

        Assert.That(Ports.Journal, Is.EqualTo(new[] { "queue refused", "queue message:User request:Dispatched", "send:Request" }));
        Assert.That(turnsRead, Is.EqualTo(2), "the turns read again with the chat");
        Assert.That(SentFor(second).Count(), Is.EqualTo(1), "the refused write's placement was never sent");
        Assert.That(second.Request.Attempts, Is.EqualTo(1));
    }

    [Test]
    public async Task AStartedChatsQuestion_AfterTurnsWithImages_WaitsInTheQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var chat = await StartedChatAsync();
        Ports.History(chat.Id, new ChatTurn(MessageRole.User, "look") { Images = [new TurnImage("image/png", Key: "k")] },
            new ChatTurn(MessageRole.Assistant, "a lizard"));

        var second = await AskAsync(InChat(chat.Id, "and then?"));

        Assert.That(second.Request.Status, Is.EqualTo(RelayRequestStatus.Pending), "the dispatcher reads the images back");
        Assert.That(SentFor(second), Is.Empty);
        Ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
    }

    [Test]
    public async Task AStartedChatsQuestion_WithAChoiceOfHosts_WaitsInTheQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var chat = await StartedChatAsync();
        Ports.WorkersOnline(TestPorts.ReadyWorker(), TestPorts.ReadyWorker());
        Ports.Relay<ModelHosts>().ReadAgain(); // a second host came since the hosts were last looked at

        var second = await AskAsync(InChat(chat.Id, "and then?"));

        Assert.That(second.Request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(SentFor(second), Is.Empty);
        Ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
    }

    [Test]
    public async Task APlacedQuestionWhoseWriteFails_IsNeitherStoredNorSent()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.Requests.Setup(r => r.AddAsync(It.IsAny<RelayRequest>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("the database went away"));

        Assert.ThrowsAsync<InvalidOperationException>(() => AskAsync(InNewChat("hello?")));

        Assert.That(Ports.Journal, Does.Contain("rollback"));
        Assert.That(Ports.EnvelopesSentToWorkers, Is.Empty);
        Assert.That(Ports.Published, Is.Empty);
    }
}

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
/// A new chat's first question placed on a host in the transaction that stores it (<see cref="Application.Relay.Dispatch.EarlyDispatch"/>)
/// where the queue decides nothing, and left to the dispatcher everywhere else.
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
            Ports.QueueSignal.Object, Microsoft.Extensions.Options.Options.Create(Ports.RelayOptions));

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

    [Test]
    public async Task AQuestionInAChatAlreadyStarted_WaitsInTheQueue()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var first = await AskAsync(InNewChat("hello?"));
        first.Request.Acknowledge(Ports.Clock.UtcNow);
        first.Request.Complete(MessageId.New(), Ports.Clock.UtcNow);

        var second = await AskAsync(new Question(new InChat(first.Chat.Id), PromptText.From("and then?"),
            SamplingParameters.Default, GenerationOptions.None, "test"));

        Assert.That(second.Request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(Ports.EnvelopesSentToWorkers.Select(e => e.RequestId), Is.EqualTo(new[] { first.RequestId }),
            "the first question's only");
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

using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Messages.Caching;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Outcomes;
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

/// <summary>
/// The answer cache: which questions it may answer, what its key tells apart, and how the one way a question is asked
/// uses it — a miss is queued as ever and its answer kept once stored; a hit is stored already taken from the queue,
/// answered from the cache, marked cached, and no host is woken for it.
/// </summary>
public class AnswerCacheTests
{
    private static readonly Guid Alice = Guid.NewGuid();

    private static string Key(string model = "alpha", string? system = "Be brief.", IReadOnlyList<CacheTurn>? turns = null,
        SamplingParameters? sampling = null, GenerationOptions? options = null, Guid? asker = null, bool shared = false) =>
        AnswerCacheKeys.Of(model, SystemPrompt.FromOptional(system), turns ?? [new CacheTurn(MessageRole.User, "hi")],
            sampling ?? SamplingParameters.Create(0), options ?? GenerationOptions.None, shared ? null : asker ?? Alice);

    [TestCase(0.0, null, true)]
    [TestCase(0.7, 42L, true)]
    [TestCase(null, 7L, true)]
    [TestCase(0.7, null, false)]
    [TestCase(null, null, false)]
    public void OnlyADeterministicQuestion_TemperatureZeroOrASeed_IsCacheable(double? temperature, long? seed, bool cacheable)
    {
        Assert.That(AnswerCacheKeys.IsDeterministic(SamplingParameters.Create(temperature),
            GenerationOptions.Create(seed: seed)), Is.EqualTo(cacheable));
    }

    [Test]
    public void TheSameQuestion_HasTheSameKey_OfSixtyFourHexDigits()
    {
        Assert.That(Key(), Is.EqualTo(Key()));
        Assert.That(Key(), Does.Match("^[0-9a-f]{64}$"));
    }

    [Test]
    public void EverythingTheAnswerDependsOn_ChangesTheKey()
    {
        var keys = new Dictionary<string, string>
        {
            ["as asked"] = Key(),
            ["model"] = Key(model: "beta"),
            ["system prompt"] = Key(system: "Be long."),
            ["no system prompt"] = Key(system: null),
            ["question"] = Key(turns: [new CacheTurn(MessageRole.User, "hello")]),
            ["earlier turns"] = Key(turns: [new CacheTurn(MessageRole.User, "before"), new CacheTurn(MessageRole.Assistant, "ok"),
                new CacheTurn(MessageRole.User, "hi")]),
            ["a turn's role"] = Key(turns: [new CacheTurn(MessageRole.Assistant, "hi")]),
            ["temperature"] = Key(sampling: SamplingParameters.Create(0.5)),
            ["top_p"] = Key(sampling: SamplingParameters.Create(0, 0.9)),
            ["max_tokens"] = Key(sampling: SamplingParameters.Create(0, maxTokens: 20)),
            ["seed"] = Key(options: GenerationOptions.Create(seed: 1)),
            ["stop"] = Key(options: GenerationOptions.Create(stop: ["END"])),
            ["penalty"] = Key(options: GenerationOptions.Create(presencePenalty: 0.5)),
            ["response_format"] = Key(options: GenerationOptions.Create(responseFormat: """{"type":"json_object"}""")),
            ["tools"] = Key(options: GenerationOptions.Create(tools: """[{"type":"function","function":{"name":"f"}}]""")),
            ["another user"] = Key(asker: Guid.NewGuid()),
            ["shared"] = Key(shared: true),
        };

        Assert.That(keys.Values.Distinct().Count(), Is.EqualTo(keys.Count),
            string.Join(", ", keys.GroupBy(k => k.Value).Where(g => g.Count() > 1).Select(g => string.Join("=", g.Select(k => k.Key)))));
    }

    [Test]
    public void WordsMovedBetweenTurns_AreAnotherConversation()
    {
        var one = Key(turns: [new CacheTurn(MessageRole.User, "a b"), new CacheTurn(MessageRole.User, "c")]);
        var other = Key(turns: [new CacheTurn(MessageRole.User, "a"), new CacheTurn(MessageRole.User, "b c")]);

        Assert.That(one, Is.Not.EqualTo(other));
    }

    private TestPorts _ports = null!;
    private User _alice = null!;

    [SetUp]
    public void SetUp()
    {
        _ports = new TestPorts();
        _ports.AnswerCacheOptions.Enabled = true;
        _alice = _ports.SignIn(new UserBuilder().Named("alice").Build());
        _ports.Sessions.Setup(s => s.StartAsync(It.IsAny<Chat>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((Chat chat, CancellationToken _) =>
            {
                _ports.Remember(chat);
                return _ports.SessionVersion(chat.Id);
            });
    }

    private static Question Deterministic(string text, double? temperature = 0) =>
        new(new InNewChat(ModelName.From("alpha")), PromptText.From(text), SamplingParameters.Create(temperature),
            GenerationOptions.None, "test");

    /// <summary>The request answered by a model host, as the relay stores its final (the claim's write left out).</summary>
    private async Task AnswerAsync(RelayRequest request, string content)
    {
        request.Dispatch(_ports.Clock.UtcNow, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        Assert.That(await _ports.Relay<CompleteOutcome>().CompleteAsync(request,
            new FinalBody(content, 5, 3, 10, "stop", Model: "alpha"), CancellationToken.None,
            storedStatus: RelayRequestStatus.Pending), Is.True);
    }

    [Test]
    public async Task AMiss_IsQueuedAsEver_AndItsAnswerIsKeptOnceStored()
    {
        var asked = await _ports.Asking.AskAsync(_alice, Deterministic("what is a lizard?"), CancellationToken.None);

        Assert.That(asked.Cache, Is.Not.Null);
        Assert.That(asked.AnsweredFromCache, Is.False);
        Assert.That(asked.Request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Once);
        Assert.That(_ports.AnswerStore.Awaited[asked.RequestId], Is.EqualTo(asked.Cache!.Key));

        await AnswerAsync(asked.Request, "A reptile.");

        Assert.That(_ports.AnswerStore.Answers[asked.Cache.Key],
            Is.EqualTo(new CachedAnswer("A reptile.", 5, 3, "alpha", "stop")));
        Assert.That(_ports.AnswerStore.Awaited, Is.Empty);
    }

    [Test]
    public async Task AHit_IsStoredTakenFromTheQueue_AnsweredFromTheCache_AndMarkedCached_WithNoHostWoken()
    {
        var first = await _ports.Asking.AskAsync(_alice, Deterministic("what is a lizard?"), CancellationToken.None);
        await AnswerAsync(first.Request, "A reptile.");
        _ports.ClearJournal();
        _ports.QueueSignal.Invocations.Clear();

        var second = await _ports.Asking.AskAsync(_alice, Deterministic("what is a lizard?"), CancellationToken.None);

        Assert.That(second.AnsweredFromCache, Is.True);
        Assert.That(second.ChatId, Is.Not.EqualTo(first.ChatId), "a chat of its own, like any question in a new chat");
        Assert.That(_ports.Journal, Does.Contain("add request:Dispatched (tx)"), "stored already out of the queue");
        Assert.That(second.Request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        _ports.QueueSignal.Verify(q => q.NotifyPending(), Times.Never);
        var answer = _ports.StoredMessages.Last();
        Assert.That((answer.Role, answer.Source, answer.Content, answer.Cached, answer.RequestId),
            Is.EqualTo((MessageRole.Assistant, MessageSource.Model, "A reptile.", true, (RelayRequestId?)second.Request.Id)));
        Assert.That(answer.Tokens, Is.EqualTo(new TokenCounts(5, 3)));
        Assert.That(_ports.Published.Where(e => e.RequestId == second.RequestId).Select(e => e.Status),
            Does.Contain(AnswerStatuses.Completed).And.Not.Contain(AnswerStatuses.Queued));
        Assert.That(_ports.StoredMessages.Count(m => m.Cached), Is.EqualTo(1), "the first answer was the model's");
        _ports.Fallback.Verify(f => f.Learn(It.IsAny<UserId>(), "A reptile."), Times.Once,
            "the fallback learnt the model's answer, not its copy again");
    }

    [Test]
    public async Task InAChatOfItsOwn_TheConversationIsTheChatsHistory_TheSameHistoryAndQuestionHit_AnotherMisses()
    {
        var turns = new[]
        {
            new MeatLizard.Application.Common.Models.ChatTurn(MessageRole.User, "name a lizard"),
            new MeatLizard.Application.Common.Models.ChatTurn(MessageRole.Assistant, "a gecko"),
        };
        var one = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        var same = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        var other = _ports.Remember(new SessionBuilder().OwnedBy(_alice).Build());
        _ports.History(one.Id, turns);
        _ports.History(same.Id, turns);
        _ports.History(other.Id, turns[0], turns[1] with { Content = "an iguana" });
        Question In(Chat chat) => new(new InChat(chat.Id), PromptText.From("and another?"),
            SamplingParameters.Create(0), GenerationOptions.None, "send");

        var first = await _ports.Asking.AskAsync(_alice, In(one), CancellationToken.None);
        await AnswerAsync(first.Request, "a skink");
        var again = await _ports.Asking.AskAsync(_alice, In(same), CancellationToken.None);
        var elsewhere = await _ports.Asking.AskAsync(_alice, In(other), CancellationToken.None);

        Assert.That(first.CacheResult, Is.EqualTo("miss"));
        Assert.That(again.CacheResult, Is.EqualTo("hit"));
        Assert.That(_ports.StoredMessages.Last(m => m.ChatId == same.Id).Content, Is.EqualTo("a skink"));
        Assert.That(elsewhere.CacheResult, Is.EqualTo("miss"), "another history is another question");
    }

    [Test]
    public async Task ANonDeterministicQuestion_IsNotLookedUp_NorKept()
    {
        var asked = await _ports.Asking.AskAsync(_alice, Deterministic("what is a lizard?", temperature: 0.7),
            CancellationToken.None);
        await AnswerAsync(asked.Request, "A reptile.");

        Assert.That(asked.Cache, Is.Null);
        Assert.That(_ports.AnswerStore.Awaited, Is.Empty);
        Assert.That(_ports.AnswerStore.Answers, Is.Empty);
    }

    [Test]
    public async Task TheCacheOff_LooksNothingUp()
    {
        _ports.AnswerCacheOptions.Enabled = false;

        var asked = await _ports.Asking.AskAsync(_alice, Deterministic("what is a lizard?"), CancellationToken.None);
        await AnswerAsync(asked.Request, "A reptile.");

        Assert.That(asked.Cache, Is.Null);
        Assert.That(_ports.AnswerStore.Answers, Is.Empty);
    }

    [Test]
    public async Task AnAnswerCutShortByToolCalls_IsNotKept()
    {
        var asked = await _ports.Asking.AskAsync(_alice, Deterministic("call something"), CancellationToken.None);
        asked.Request.Dispatch(_ports.Clock.UtcNow, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));

        await _ports.Relay<CompleteOutcome>().CompleteAsync(asked.Request, new FinalBody("", 5, 3, 10, "tool_calls",
            Model: "alpha", ToolCalls: [new MeatLizard.Application.Common.Models.ToolCallDto("call_1", "f", "{}")]),
            CancellationToken.None, storedStatus: RelayRequestStatus.Pending);

        Assert.That(_ports.AnswerStore.Answers, Is.Empty);
    }
}

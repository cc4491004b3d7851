using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Tests.Builders;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public class PromptBuilderTests
{
    // 36 characters: 36 / 4 + 1 = 10 tokens, plus 4 per turn = 14.
    private const string Text36 = "abcdefghijklmnopqrstuvwxyz0123456789";
    private const int TurnCost = 14;

    private static ChatTurn Turn(int n) => new(n % 2 == 1 ? MessageRole.User : MessageRole.Assistant, $"{n:D2}" + Text36[2..]);

    private static ChatTurn[] History(int count) => [.. Enumerable.Range(1, count).Select(Turn)];

    [Test]
    public void EstimateTokens_IsAboutFourCharactersPerToken_RoundedUp() =>
        Assert.That(PromptBuilder.EstimateTokens(Text36), Is.EqualTo(10));

    [Test]
    public void FitToBudget_EverythingFits_KeepsAllInOrder()
    {
        var history = History(3);

        Assert.That(PromptBuilder.FitToBudget(history, 3 * TurnCost), Is.EqualTo(history));
    }

    [Test]
    public void FitToBudget_OverBudget_KeepsTheNewestTurns_DroppingTheOldestFirst()
    {
        var history = History(5);

        var kept = PromptBuilder.FitToBudget(history, (3 * TurnCost) + TurnCost - 1);

        Assert.That(kept, Is.EqualTo(history[2..]));
    }

    [Test]
    public void FitToBudget_NewestAloneOverBudget_IsStillKept()
    {
        var history = History(3);

        Assert.That(PromptBuilder.FitToBudget(history, 1), Is.EqualTo(new[] { history[2] }));
        Assert.That(PromptBuilder.FitToBudget(history, 0), Is.EqualTo(new[] { history[2] }));
        Assert.That(PromptBuilder.FitToBudget(history, -100), Is.EqualTo(new[] { history[2] }));
    }

    [Test]
    public void FitToBudget_CountsAnAnswersToolCalls_AndKeepsTheAnswerAKeptResultAnswers()
    {
        var call = ToolCall.Create("call_1", "lookup", new string('x', 400));
        ChatTurn[] history =
        [
            Turn(1), new(MessageRole.Assistant, "", [call]), new(MessageRole.Tool, "42", ToolCallId: "call_1"), Turn(3),
        ];

        // Room for the result and the question only: the answer (its arguments are 100 tokens) comes along anyway.
        var kept = PromptBuilder.FitToBudget(history, 2 * TurnCost);

        Assert.That(kept, Is.EqualTo(history[1..]));
        Assert.That(PromptBuilder.FitToBudget(history, 3 * TurnCost), Is.EqualTo(history[1..]),
            "the arguments count: with room for three plain turns, the first question still does not fit");
    }

    [Test]
    public void FitToBudget_NeverSkipsATurnToSqueezeInAnOlderOne()
    {
        ChatTurn[] history = [new(MessageRole.User, "hi"), new(MessageRole.Assistant, new string('x', 400)), Turn(3)];

        Assert.That(PromptBuilder.FitToBudget(history, TurnCost + 10), Is.EqualTo(new[] { history[2] }));
    }

    [Test]
    public void FitToBudget_EmptyHistory_IsEmpty() => Assert.That(PromptBuilder.FitToBudget([], 100), Is.Empty);

    [TestCase(null, 3)]
    [TestCase("Answer like a pirate, always", 2)] // 28 characters: 8 tokens + 4
    public async Task Build_AccountsForTheSystemPromptInTheBudget(string? systemPrompt, int turnsKept)
    {
        var ports = new TestPorts();
        ports.InferenceOptions.ContextSize = 100;
        ports.InferenceOptions.MaxTokens = 50; // budget 50: three turns (42) fit, four (56) do not
        var chat = new SessionBuilder().WithSystemPrompt(systemPrompt).Build();
        var history = History(4);
        var request = new RelayRequestBuilder().ForSession(chat.Id).Build();

        var prompt = await ports.Prompts.BuildAsync(request, chat, history, CancellationToken.None);

        Assert.That(prompt.Turns, Is.EqualTo(history[^turnsKept..]));
        Assert.That(prompt.SystemPrompt, Is.EqualTo(systemPrompt));
    }

    [Test]
    public async Task Build_TheAnswersRoomComesFromTheRequest_AndTheModelFromTheSessionOrTheDefault()
    {
        var ports = new TestPorts();
        ports.InferenceOptions.ContextSize = 100;
        ports.InferenceOptions.MaxTokens = 90;
        ports.InferenceOptions.DefaultModel = "house-model";
        var history = History(4);
        var chat = new SessionBuilder().Build();
        var request = new RelayRequestBuilder().ForSession(chat.Id)
            .WithSampling(SamplingParameters.Create(0.4, 0.95, 58)).Build(); // budget 42: three turns

        var prompt = await ports.Prompts.BuildAsync(request, chat, history, CancellationToken.None);

        Assert.That(prompt.Turns, Has.Count.EqualTo(3));
        Assert.That(prompt.MaxTokens, Is.EqualTo(58));
        Assert.That(prompt.Temperature, Is.EqualTo(0.4));
        Assert.That(prompt.TopP, Is.EqualTo(0.95));
        Assert.That(prompt.Model, Is.EqualTo("house-model"));
        Assert.That(prompt.RequestId, Is.EqualTo(request.Id.Value));
        Assert.That(prompt.ChatId, Is.EqualTo(chat.Id.Value));
        Assert.That((await ports.Prompts.BuildAsync(request, new SessionBuilder().WithModel("chosen").Build(),
            history, CancellationToken.None)).Model, Is.EqualTo("chosen"));
    }
}

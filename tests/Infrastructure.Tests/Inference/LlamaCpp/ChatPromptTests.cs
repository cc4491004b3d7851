using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

public sealed class ChatPromptTests
{
    private static readonly LlamaCppOptions Options = new() { ContextSize = 256, MaxTokens = 56 };

    private static InferenceRequest Request(string? system, params ChatTurn[] turns) =>
        new(Guid.NewGuid(), Guid.NewGuid(), null, system, turns, null, null, null);

    private static ChatTurn User(string text) => new(MessageRole.User, text);

    private static ChatTurn Assistant(string text) => new(MessageRole.Assistant, text);

    [Test]
    public void Fit_DropsTheOldestTurnsFirst_AndKeepsTheSystemPrompt()
    {
        var padding = new string('x', 200); // estimated at 67 tokens (+ 8 for the template) each
        var request = Request("be brief", User("1 " + padding), Assistant("2 " + padding), User("3 " + padding));

        var prompt = ChatPrompt.Fit(request, Options);

        Assert.That(prompt.SystemPrompt, Is.EqualTo("be brief"));
        Assert.That(prompt.Turns.Select(t => t.Content[0]), Is.EqualTo(new[] { '2', '3' }));
        Assert.That(prompt.DroppedTurns, Is.EqualTo(1));
        Assert.That(prompt.MaxTokens, Is.EqualTo(56));
    }

    [Test]
    public void Messages_PutTheSystemPromptFirst()
    {
        var prompt = ChatPrompt.Fit(Request("sys", User("hi"), Assistant("hello"), User("again")), Options);

        Assert.That(prompt.Messages().Select(m => (MessageRoles.Name(m.Role), m.Content)), Is.EqualTo(new[]
        {
            ("system", "sys"), ("user", "hi"), ("assistant", "hello"), ("user", "again"),
        }));
    }

    [Test]
    public void Fit_KeepsTheAnswerWhoseCallsAKeptToolResultAnswers()
    {
        // Room for the result and the question after it, not for the answer that asked for the call: without that
        // answer the result would be a tool message answering nothing, which a model server refuses.
        var call = ToolCall.Create("call_1", "lookup", "{}");
        var turns = new[]
        {
            User(new string('a', 4000)),
            new ChatTurn(MessageRole.Assistant, new string('b', 4000), [call]),
            new ChatTurn(MessageRole.Tool, "42", ToolCallId: "call_1"),
            User("and so?"),
        };
        var prompt = ChatPrompt.Fit(Request(null, turns), new LlamaCppOptions { ContextSize = 1200, MaxTokens = 64 });

        Assert.That(prompt.Turns.Select(t => t.Role), Is.EqualTo(new[] { MessageRole.Assistant, MessageRole.Tool, MessageRole.User }));
        Assert.That(prompt.DroppedTurns, Is.EqualTo(1));
    }

    [Test]
    public void SingleTurn_MovesEarlierTurnsIntoTheSystemPrompt()
    {
        var prompt = ChatPrompt.Fit(Request("sys", User("hi"), Assistant("hello"), User("again")), Options);

        var (system, user) = prompt.SingleTurn();

        Assert.That(system, Is.EqualTo("sys\n\nThe conversation so far:\nuser: hi\nassistant: hello"));
        Assert.That(user, Is.EqualTo("again"));
    }

    [Test]
    public void RequestMaxTokens_WinsOverTheSetting_ButStaysInsideTheContext()
    {
        var request = Request(null, User("hi")) with { MaxTokens = 5000 };

        Assert.That(ChatPrompt.Fit(request, Options).MaxTokens, Is.EqualTo(255));
    }

    [Test]
    public async Task FitAsync_WhenEverythingFitsEvenAtOneTokenPerByte_CountsNothing()
    {
        var counted = new List<string>();
        var request = Request("be brief", User("hello"), Assistant("hi there"), User("how are you?"));

        var prompt = await ChatPrompt.FitAsync(request, Options, (text, _) =>
        {
            counted.Add(text);
            return ValueTask.FromResult(1);
        }, CancellationToken.None);

        Assert.That(counted, Is.Empty);
        Assert.That(prompt.Turns, Has.Count.EqualTo(3));
        Assert.That(prompt.DroppedTurns, Is.Zero);
    }

    [Test]
    public async Task FitAsync_UsesTheModelsCounts_NewestFirst_KeepingTheSystemPrompt()
    {
        // 200 bytes each: an estimate (67 tokens) keeps two of these turns; the model says 90 tokens, so only one fits.
        var padding = new string('x', 200);
        var request = Request("be brief", User("1 " + padding), Assistant("2 " + padding), User("3 " + padding));
        var counted = new List<string>();

        var prompt = await ChatPrompt.FitAsync(request, Options, (text, _) =>
        {
            counted.Add(text);
            return ValueTask.FromResult(text == "be brief" ? 3 : 90);
        }, CancellationToken.None);

        Assert.That(prompt.SystemPrompt, Is.EqualTo("be brief"));
        Assert.That(prompt.Turns.Select(t => t.Content[0]), Is.EqualTo(new[] { '3' }));
        Assert.That(prompt.DroppedTurns, Is.EqualTo(2));
        Assert.That(counted.Select(t => t[0]), Is.EqualTo(new[] { 'b', '3', '2' }),
            "the system prompt, then from the newest turn back until one does not fit");
        Assert.That(ChatPrompt.Fit(request, Options).Turns, Has.Count.EqualTo(2), "the estimate would have kept two");
    }
}

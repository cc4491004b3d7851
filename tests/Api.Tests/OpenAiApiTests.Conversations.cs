using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.OpenAi.Commands;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>The chats completions are stored in, the parameters that reach the engine, and how an answer finishes.</summary>
public sealed partial class OpenAiApiTests
{
    [Test]
    public async Task GrowingHistory_LandsInOneChat()
    {
        var (client, _) = await KeyClientAsync();
        var first = await CompleteAsync(client, [new { role = "user", content = "first question" }]);
        var answer = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var second = await CompleteAsync(client,
        [
            new { role = "user", content = "first question" },
            new { role = "assistant", content = answer },
            new { role = "user", content = "second question" },
        ]);

        Assert.That(second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(),
            Is.EqualTo("You said: second question"));
        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        var messages = await ApiClient.ReadAsync(
            await client.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"));
        Assert.That(messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { "first question", answer, "second question", "You said: second question" }));
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Content),
            Is.EqualTo(new[] { "first question", answer, "second question" }));
    }

    [Test]
    public async Task HistoryFromElsewhere_StartsAChatHoldingIt()
    {
        var (client, _) = await KeyClientAsync();

        await CompleteAsync(client,
        [
            new { role = "developer", content = "Be brief." },
            new { role = "user", content = "earlier question" },
            new { role = "assistant", content = "an answer from another model" },
            new { role = "user", content = "now this" },
        ]);

        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        Assert.That(chats[0].GetProperty("systemPrompt").GetString(), Is.EqualTo("Be brief."));
        var messages = await ApiClient.ReadAsync(
            await client.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"));
        Assert.That(messages.GetProperty("messages").GetArrayLength(), Is.EqualTo(4));
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Content),
            Is.EqualTo(new[] { "earlier question", "an answer from another model", "now this" }));
    }

    [Test]
    public async Task StoreFalse_KeepsNoChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            store = false,
            messages = new[] { new { role = "user", content = "forget me" } },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength() > 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the chat of a store:false completion was not deleted");
            await Task.Delay(50);
        }
    }

    [Test]
    public async Task GenerationParameters_ReachTheEngine()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new[] { new { role = "user", content = "json please" } },
            stop = new[] { "END", "\n\n" },
            seed = 42,
            presence_penalty = 0.5,
            frequency_penalty = -0.25,
            temperature = 0.3,
            top_p = 0.9,
            max_completion_tokens = 77,
            response_format = new { type = "json_object" },
            n = 1,
            user = "someone",
            safety_identifier = "hashed-someone",
            prompt_cache_key = "chat-42",
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1];
        Assert.That(asked.Extras, Is.Not.Null);
        Assert.That(asked.Extras!.Stop, Is.EqualTo(new[] { "END", "\n\n" }));
        Assert.That(asked.Extras.Seed, Is.EqualTo(42));
        Assert.That(asked.Extras.PresencePenalty, Is.EqualTo(0.5));
        Assert.That(asked.Extras.FrequencyPenalty, Is.EqualTo(-0.25));
        Assert.That(JsonDocument.Parse(asked.Extras.ResponseFormat!).RootElement.GetProperty("type").GetString(),
            Is.EqualTo("json_object"));
        Assert.That(asked.Temperature, Is.EqualTo(0.3));
        Assert.That(asked.TopP, Is.EqualTo(0.9));
        Assert.That(asked.MaxTokens, Is.EqualTo(77));
    }

    [Test]
    public async Task AnAnswerThatUsesTheWholeLength_FinishesWithLength()
    {
        var (client, _) = await KeyClientAsync();

        var completion = await CompleteAsync(client, [new { role = "user", content = "a b c d e f" }], maxTokens: 3);

        // The scripted engine does not stop at the limit: it produces 7 tokens, over 3, and says so (finish "length").
        Assert.That(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
    }

    [Test]
    public async Task AnAnswerTheEngineEndedItself_FinishesWithStop_EvenAtExactlyTheLengthAsked()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.Reply = _ => "one two three";
        Host.Engine.FinishReason = "stop"; // it ended by itself (end of text, or a stop sequence) on its third token

        var completion = await CompleteAsync(client, [new { role = "user", content = "count to three" }], maxTokens: 3);

        Assert.That(completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(3));
        Assert.That(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"),
            "the engine's own reason, not a guess from the token count");
    }

    [Test]
    public async Task ANewConversation_TakesAChatCreationToken_SharedWithTheWebApp_AndAContinuationDoesNot()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:ChatCreationPerUserPerMinute"] = "1",
            ["RateLimits:ChatCreationBurst"] = "1",
        }, storage: Storage).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        var first = await CompleteAsync(client, [new { role = "user", content = "first question" }]);
        var answer = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var another = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "another conversation" } } });
        var inTheWebApp = await client.PostAsync("api/v1/sessions", new { title = "by hand" });
        await CompleteAsync(client,
        [
            new { role = "user", content = "first question" },
            new { role = "assistant", content = answer },
            new { role = "user", content = "second question" },
        ]);

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(another.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That((await ApiClient.ReadAsync(another)).GetProperty("error").GetProperty("code").GetString(),
                Is.EqualTo("rate_limit_exceeded"));
            Assert.That(inTheWebApp.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "one bucket for new chats");
            Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task AChatThatKeepsNothing_LeftByACrashAfterItsAnswer_IsDeletedByTheSweep_AStoredOneIsNot()
    {
        var deletions = new System.Runtime.CompilerServices.StrongBox<int>();
        await using var host = await new ApiHost(storage: Storage, services: services =>
        {
            // The deletion of the chat that keeps nothing, once answered, does not happen: what a kill -9 between the
            // answer and the deletion leaves. (A new chat is stored with its question in one transaction: a crash
            // before that leaves nothing.)
            var original = services.Last(d => d.ServiceType == typeof(MeatLizard.Application.Abstractions.IChatRepository));
            services.Add(new ServiceDescriptor(typeof(MeatLizard.Application.Abstractions.IChatRepository), provider =>
                FailingOnce<MeatLizard.Application.Abstractions.IChatRepository>.Wrap(
                    (MeatLizard.Application.Abstractions.IChatRepository)(original.ImplementationInstance
                        ?? original.ImplementationFactory?.Invoke(provider)
                        ?? ActivatorUtilities.CreateInstance(provider, original.ImplementationType!)),
                    nameof(MeatLizard.Application.Abstractions.IChatRepository.DeleteAsync), deletions),
                original.Lifetime));
        }).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        object[] History(string topic) =>
        [
            new { role = "user", content = $"{topic}: the first question" },
            new { role = "assistant", content = "the first answer" },
            new { role = "user", content = "and then?" },
        ];

        var forgetful = await client.PostAsync("v1/chat/completions", new { model = "default", messages = History("forget"), store = false });
        var kept = await client.PostAsync("v1/chat/completions", new { model = "default", messages = History("keep"), store = true });
        Assert.That((forgetful.StatusCode, kept.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength() < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var sweeper = host.Services.GetRequiredService<MeatLizard.Application.Chats.ForgottenChatSweeper>();
        var now = await sweeper.SweepAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        var beforeTheSweep = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength();
        var later = await sweeper.SweepAsync(DateTimeOffset.UtcNow + MeatLizard.Application.Messages.NewChats.ForgetGrace + TimeSpan.FromMinutes(1),
            CancellationToken.None);
        var titles = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).EnumerateArray()
            .Select(c => c.GetProperty("title").GetString()).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(beforeTheSweep, Is.EqualTo(2), "the answered chat that keeps nothing is left behind");
            Assert.That(now, Is.Zero, "not within its grace");
            Assert.That(later, Is.EqualTo(1));
            Assert.That(titles, Has.Count.EqualTo(1));
            Assert.That(titles[0], Does.StartWith("keep"), "the chat that keeps nothing went, the stored one stayed");
        });
    }

    /// <summary>A port of <c>inner</c> whose first call of the method <c>name</c> fails (counted in <c>calls</c>, which
    /// every scope's port shares).</summary>
    public class FailingOnce<T> : System.Reflection.DispatchProxy
        where T : class
    {
        private T _inner = null!;
        private string _name = null!;
        private System.Runtime.CompilerServices.StrongBox<int> _calls = null!;

        public static T Wrap(T inner, string name, System.Runtime.CompilerServices.StrongBox<int> calls)
        {
            var proxy = Create<T, FailingOnce<T>>();
            var failing = (FailingOnce<T>)(object)proxy;
            (failing._inner, failing._name, failing._calls) = (inner, name, calls);
            return proxy;
        }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == _name && targetMethod.ReturnType == typeof(Task) && Interlocked.Increment(ref _calls.Value) == 1
                ? Task.FromException(new InvalidOperationException("The process stopped here."))
                : targetMethod.Invoke(_inner, args);
    }
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>API keys, chats, messages, relay requests and metrics: each field stored and read back as written.</summary>
public abstract partial class RepositoryContract
{
    [Test]
    public async Task ApiKey_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Restore(ApiKeyId.New(), owner.Id, "ci key", "ml_abc123", "secret-hash", At(1), At(2), At(3));

        await keys.AddAsync(key, None);

        AssertSame(await keys.GetAsync(key.Id, None), key);
        AssertSame(await keys.GetByPrefixAsync("ml_abc123", None), key);
    }

    [Test]
    public async Task ApiKey_UnusedAndActive_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "fresh", "ml_fresh1", "hash", At(1));

        await keys.AddAsync(key, None);
        var stored = await keys.GetAsync(key.Id, None);

        AssertSame(stored, key);
        Assert.That(stored!.LastUsedAt, Is.Null);
        Assert.That(stored.RevokedAt, Is.Null);
    }

    [Test]
    public async Task ApiKey_Update_StoresLastUseAndRevocation()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "used", "ml_used01", "hash", At(1));
        await keys.AddAsync(key, None);
        key.MarkUsed(At(7));
        key.Revoke(At(8));

        await keys.MarkUsedAsync(key.Id, At(7), None);
        await keys.UpdateAsync(key, None);

        AssertSame(await keys.GetAsync(key.Id, None), key);
    }

    [Test]
    public async Task ApiKey_RevokeAll_EndsEveryKeyOfTheOwnerOnly_AndKeepsEarlierRevocations()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var other = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var first = ApiKey.Issue(owner, "one", "ml_all001", "hash", At(1));
        var second = ApiKey.Issue(owner, "two", "ml_all002", "hash", At(1));
        var revokedBefore = ApiKey.Issue(owner, "old", "ml_all003", "hash", At(1));
        var others = ApiKey.Issue(other, "theirs", "ml_all004", "hash", At(1));
        foreach (var key in new[] { first, second, revokedBefore, others })
        {
            await keys.AddAsync(key, None);
        }

        revokedBefore.Revoke(At(2));
        await keys.UpdateAsync(revokedBefore, None);

        var revoked = await keys.RevokeAllAsync(owner.Id, At(9), None);

        Assert.That(revoked, Is.EqualTo(2));
        Assert.That((await keys.GetAsync(first.Id, None))!.RevokedAt, Is.EqualTo(At(9)));
        Assert.That((await keys.GetAsync(second.Id, None))!.RevokedAt, Is.EqualTo(At(9)));
        Assert.That((await keys.GetAsync(revokedBefore.Id, None))!.RevokedAt, Is.EqualTo(At(2)));
        Assert.That((await keys.GetAsync(others.Id, None))!.RevokedAt, Is.Null);
    }

    [Test]
    public async Task ApiKey_RevokedMeanwhile_StaysRevoked_WhateverAStaleCopyWrites()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "raced", "ml_race01", "hash", At(1));
        await keys.AddAsync(key, None);
        var readBeforeRevocation = (await keys.GetAsync(key.Id, None))!;
        var revoking = (await keys.GetAsync(key.Id, None))!;
        revoking.Revoke(At(5));
        await keys.UpdateAsync(revoking, None);

        // What an authentication that read the key before the revocation goes on to write.
        await keys.MarkUsedAsync(readBeforeRevocation.Id, At(6), None);
        readBeforeRevocation.MarkUsed(At(6));
        await keys.UpdateAsync(readBeforeRevocation, None);

        var stored = await keys.GetAsync(key.Id, None);
        Assert.That(stored!.RevokedAt, Is.EqualTo(At(5)));
    }

    [Test]
    public async Task ApiKey_MarkUsed_MovesTheLastUseForwardOnly()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        var key = ApiKey.Issue(owner, "used", "ml_used02", "hash", At(1));
        await keys.AddAsync(key, None);

        await keys.MarkUsedAsync(key.Id, At(7), None);
        await keys.MarkUsedAsync(key.Id, At(4), None);

        var stored = await keys.GetAsync(key.Id, None);
        Assert.That(stored!.LastUsedAt, Is.EqualTo(At(7)));
        Assert.That(stored.RevokedAt, Is.Null);
        Assert.That(stored.Name, Is.EqualTo("used"));
    }

    [Test]
    public async Task AddApiKey_WithTakenPrefix_IsRejected()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
        await keys.AddAsync(ApiKey.Issue(owner, "one", "ml_same00", "h1", At(1)), None);

        var ex = Assert.CatchAsync(() => keys.AddAsync(ApiKey.Issue(owner, "two", "ml_same00", "h2", At(2)), None));

        Assert.That(Db.IsConstraintViolation(ex!), Is.True, ex!.Message);
    }

    [Test]
    public async Task Chat_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        var chat = Chat.Restore(ChatId.New(), owner.Id, ChatTitle.From("Trip planning"),
            ChatStatus.Closed, ModelName.From("mistral:7b"), SystemPrompt.FromOptional("You are a travel agent."),
            SamplingParameters.Create(0.7, 0.95, 512), At(1), At(2), At(3));

        await chats.AddAsync(chat, None);

        AssertSame(await chats.GetAsync(chat.Id, None), chat);
    }

    [Test]
    public async Task Chat_WithDefaults_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);

        var stored = await scope.ServiceProvider.GetRequiredService<IChatRepository>().GetAsync(chat.Id, None);

        AssertSame(stored, chat);
        Assert.That(stored!.Sampling, Is.EqualTo(SamplingParameters.Default));
        Assert.That(stored.ClosedAt, Is.Null);
    }

    [Test]
    public async Task Chat_Update_StoresEveryMutableField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        chat.Rename(owner, ChatTitle.From("Renamed"), At(1));
        chat.ChangeSettings(owner, ModelName.From("phi3:mini"), SystemPrompt.FromOptional("Terse."),
            SamplingParameters.Create(1.2, 0.5, 64), At(2));
        chat.Close(owner, At(3));

        await chats.UpdateAsync(chat, None);

        AssertSame(await chats.GetAsync(chat.Id, None), chat);
    }

    [Test]
    public async Task Message_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var messages = scope.ServiceProvider.GetRequiredService<IMessageRepository>();
        var answer = Message.Answer(chat.Id, RelayRequestId.New(), "Forty-two.", MessageSource.Model,
            new TokenCounts(12, 3), At(4), "alpha", FinishReason.Length);

        await messages.AddAsync(answer, None);

        AssertSame(await messages.GetAsync(answer.Id, None), answer);
        Assert.That((answer.Model, answer.Finish), Is.EqualTo(("alpha", (FinishReason?)FinishReason.Length)));
    }

    [Test]
    public async Task Message_ToolCallsAndAToolResult_RoundTrip()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var messages = scope.ServiceProvider.GetRequiredService<IMessageRepository>();
        var calls = new[]
        {
            ToolCall.Create("call_1", "get_weather", """{"city":"Zürich","note":"a \"quoted\" word"}"""),
            ToolCall.Create("call_2", "get-time", ""),
        };
        var answer = Message.Answer(chat.Id, RelayRequestId.New(), "", MessageSource.Model, new TokenCounts(12, 3),
            At(4), "alpha", FinishReason.ToolCalls, calls);
        var result = chat.PostToolResults(owner, [("call_1", "{\"temp\": 21}"), ("call_2", "")], At(5));

        await messages.AddAsync(answer, None);
        foreach (var message in result)
        {
            await messages.AddAsync(message, None);
        }

        var stored = await messages.GetAsync(answer.Id, None);
        AssertSame(stored, answer);
        Assert.That(stored!.ToolCalls, Is.EqualTo(calls));
        Assert.That(stored.Finish, Is.EqualTo(FinishReason.ToolCalls));
        var storedResult = await messages.GetAsync(result[0].Id, None);
        AssertSame(storedResult, result[0]);
        Assert.That((storedResult!.Role, storedResult.ToolCallId, storedResult.Content, storedResult.ToolCalls.Count),
            Is.EqualTo((MessageRole.Tool, "call_1", "{\"temp\": 21}", 0)));
        Assert.That((await messages.GetAsync(result[1].Id, None))!.Content, Is.Empty);
    }

    [Test]
    public async Task Message_WithoutTokensOrRequest_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var posted = chat.PostUserMessage(owner, PromptText.From("Hello there"), At(1));
        var messages = scope.ServiceProvider.GetRequiredService<IMessageRepository>();

        await messages.AddAsync(posted, None);
        var stored = await messages.GetAsync(posted.Id, None);

        AssertSame(stored, posted);
        Assert.That(stored!.Tokens, Is.Null);
        Assert.That(stored.RequestId, Is.Null);
    }

    [Test]
    public async Task RelayRequest_RoundTripsEveryField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var prompt = await AddMessageAsync(scope.ServiceProvider, chat, MessageSource.User, "hi");
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = RelayRequest.Restore(RelayRequestId.New(), chat.Id, owner.Id, prompt.Id,
            SamplingParameters.Create(0.2, 0.9, 256), RelayRequestStatus.Fallback, 3, 17, At(1), At(2), At(3), At(4),
            At(5), At(6), MessageId.New(), RelayTimeoutReason.NoCompletion, "worker crashed",
            GenerationOptions.Create(["END", "\n\n"], 42, 0.5, -1.5, """{"type":"json_object"}""", modelOnly: true,
                keepNothing: true, tools: """[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]""",
                toolChoice: "\"required\"", parallelToolCalls: false),
            traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        await requests.AddAsync(request, None);

        AssertSame(await requests.GetAsync(request.Id, None), request);
    }

    [Test]
    public async Task RelayRequest_WhenNew_RoundTripsNulls()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1));

        var stored = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None);

        AssertSame(stored, request);
        Assert.That(stored!.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(stored.TimeoutReason, Is.Null);
    }

    [Test]
    public async Task RelayRequest_Update_StoresEveryMutableField()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        request.Acknowledge(At(3));
        request.ReceivePartial(4, At(4));
        request.TimeOut(RelayTimeoutReason.NoAck, At(5));
        request.FallBack(MessageId.New(), At(6));

        await requests.UpdateAsync(request, None);
        var stored = await requests.GetAsync(request.Id, None);

        AssertSame(stored, request);
        Assert.That(stored!.Status, Is.EqualTo(RelayRequestStatus.Fallback));
    }

    [Test]
    public async Task RelayRequest_Update_StoresTheError()
    {
        await using var scope = Db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));
        request.Fail("model_load_failed", null, At(3));

        await requests.UpdateAsync(request, None);

        AssertSame(await requests.GetAsync(request.Id, None), request);
    }

    [Test]
    public async Task Get_WhenIdUnknown_ReturnsNull()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;

        Assert.That(await services.GetRequiredService<IUserRepository>().GetAsync(UserId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IApiKeyRepository>().GetAsync(ApiKeyId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IApiKeyRepository>().GetByPrefixAsync("ml_none", None), Is.Null);
        Assert.That(await services.GetRequiredService<IChatRepository>().GetAsync(ChatId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IMessageRepository>().GetAsync(MessageId.New(), None), Is.Null);
        Assert.That(await services.GetRequiredService<IRelayRequestRepository>().GetAsync(RelayRequestId.New(), None),
            Is.Null);
    }

    [Test]
    public async Task MetricsRecorder_StoresOneRowPerAnswer()
    {
        await using var scope = Db.Scope();
        var metric = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 120, 340, null, 50, 7, true,
            "fallback:NoWorker");

        await scope.ServiceProvider.GetRequiredService<IMetricsRecorder>().RecordAsync(metric, None);

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM metrics"), Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{metric.RequestId}' AND session_id = '{metric.ChatId}' " +
            "AND queue_ms = 120 AND relay_ms = 340 AND inference_ms IS NULL AND prompt_tokens = 50 " +
            $"AND completion_tokens = 7 AND fallback AND outcome = 'fallback:NoWorker' AND recorded_at = {Db.InstantLiteral(At(9))}"),
            Is.EqualTo(1), "every field is stored as given");
    }

    [Test]
    public async Task MetricsRecorder_StoresTheEnginesTimings()
    {
        await using var scope = Db.Scope();
        var metric = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, 300, 50, 7, false, "completed",
            PromptMs: 12.5, GenerationMs: 250.25);

        await scope.ServiceProvider.GetRequiredService<IMetricsRecorder>().RecordAsync(metric, None);

        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{metric.RequestId}' AND prompt_ms = 12.5 " +
            "AND generation_ms = 250.25 AND inference_ms = 300"), Is.EqualTo(1));
    }

    [Test]
    public async Task Metrics_RecordTheModelAndTheHost_AndNullsForAFallback()
    {
        await using var scope = Db.Scope();
        var host = Guid.NewGuid();
        var answered = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, 300, 50, 7, false, "completed")
        {
            Model = "qwen-7b",
            WorkerId = host,
        };
        var fallback = new RequestMetric(Guid.NewGuid(), Guid.NewGuid(), At(9), 1, 2, null, 0, 3, true, "fallback:NoWorker");
        var recorder = scope.ServiceProvider.GetRequiredService<IMetricsRecorder>();

        await recorder.RecordAsync(answered, None);
        await recorder.RecordAsync(fallback, None);

        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{answered.RequestId}' AND model = 'qwen-7b' AND worker_id = '{host}'"),
            Is.EqualTo(1), "the answer's model and host");
        Assert.That(await Db.ScalarAsync<long>(
            $"SELECT COUNT(*) FROM metrics WHERE request_id = '{fallback.RequestId}' AND model IS NULL AND worker_id IS NULL"),
            Is.EqualTo(1), "a fallback has neither");
    }
}

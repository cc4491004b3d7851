using System.Collections.Concurrent;
using System.Diagnostics;
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

/// <summary>Many writers at once, as the API sees them: each in its own scope, on its own thread.</summary>
public abstract class ConcurrencyContract : DatabaseContract
{

    [Test]
    public async Task InTransaction_From50ParallelScopes_StoresEveryMessageAndRequestWithoutLockErrors()
    {
        var (owner, chats) = await SeedAsync(Db.Services, 50);
        using var start = new ManualResetEventSlim();

        var sends = chats.Select(chat => Task.Run(async () =>
        {
            start.Wait();
            await SendAsync(Db.Services, owner, chat, "hello", At(1));
        })).ToList();
        start.Set();
        await Task.WhenAll(sends);

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(50));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'pending'"),
            Is.EqualTo(50));
        Assert.That(await Db.ScalarAsync<long>(
                "SELECT COUNT(DISTINCT m.session_id) FROM messages m JOIN relay_requests r ON r.user_message_id = m.id"),
            Is.EqualTo(50), "each session got its own message and request");
    }

    /// <summary>
    /// Ten regenerates of one chat at once, each in its own scope and transaction, each having read the chat as not
    /// answering: the database's one-unfinished-request index lets exactly one queue its request; the others are
    /// refused with the 409 conflict (not a 500) and leave nothing behind.
    /// </summary>
    [Test]
    public async Task RacingUnitsOfWork_QueueingForOneChat_StoreExactlyOneRequest_AndTheOthersGetAConflict()
    {
        var (owner, chats) = await SeedAsync(Db.Services, 1);
        var chat = chats[0];
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            start.Wait();
            await using var scope = Db.Services.CreateAsyncScope();
            var services = scope.ServiceProvider;
            try
            {
                await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
                {
                    var message = Message.Restore(MessageId.New(), chat.Id, MessageRole.User, $"again {i}",
                        MessageSource.User, null, null, At(i));
                    await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
                    await services.GetRequiredService<IRelayRequestRepository>().AddAsync(
                        RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(i)), ct);
                    return true;
                }, None);
                return "queued";
            }
            catch (Application.Common.Exceptions.ConflictException)
            {
                return "conflict";
            }
        })).ToList();
        start.Set();
        var outcomes = await Task.WhenAll(attempts);

        Assert.That(outcomes.Count(o => o == "queued"), Is.EqualTo(1), string.Join(", ", outcomes));
        Assert.That(outcomes.Count(o => o == "conflict"), Is.EqualTo(9));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(1),
            "a refused unit of work is rolled back with its message");
    }

    /// <summary>
    /// A send's conditional write that races a regenerate of the same chat which has queued its request but not yet
    /// committed: the send is refused (it stores neither message nor request) instead of giving the chat a second
    /// unfinished request — the write's own "not answering" read cannot see the uncommitted request.
    /// </summary>
    [Test]
    public async Task ConditionalQueueWrite_RacingAnUncommittedRequestOfTheSameChat_IsRefusedAndStoresNothing()
    {
        var (owner, sessions) = await SeedAsync(Db.Services, 2);
        var (busy, quiet) = (sessions[0], sessions[1]);
        string busyVersion, quietVersion;
        await using (var read = Db.Services.CreateAsyncScope())
        {
            var chats = read.ServiceProvider.GetRequiredService<IChatRepository>();
            busyVersion = (await chats.GetWithAnswerStateAsync(busy.Id, None))!.Version;
            quietVersion = (await chats.GetWithAnswerStateAsync(quiet.Id, None))!.Version;
        }

        using var queued = new SemaphoreSlim(0);
        using var commit = new SemaphoreSlim(0);
        var regenerate = Task.Run(async () =>
        {
            await using var scope = Db.Services.CreateAsyncScope();
            var services = scope.ServiceProvider;
            await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
            {
                var message = Message.Restore(MessageId.New(), busy.Id, MessageRole.User, "again", MessageSource.User,
                    null, null, At(1));
                await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
                await services.GetRequiredService<IRelayRequestRepository>().AddAsync(
                    RelayRequest.Create(busy.Id, owner.Id, message.Id, SamplingParameters.Default, At(1)), ct);
                await services.GetRequiredService<IRelayRequestRepository>().GetUnfinishedForSessionAsync(busy.Id, ct);
                queued.Release();
                await commit.WaitAsync(ct);
                return true;
            }, None);
        });
        await queued.WaitAsync(TimeSpan.FromSeconds(30));

        var sends = new[] { (busy, busyVersion), (quiet, quietVersion) }.Select(chat => Task.Run(async () =>
        {
            await using var scope = Db.Services.CreateAsyncScope();
            var message = Message.Restore(MessageId.New(), chat.Item1.Id, MessageRole.User, "send", MessageSource.User,
                null, null, At(2));
            var request = RelayRequest.Create(chat.Item1.Id, owner.Id, message.Id, SamplingParameters.Default, At(2));
            return await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryQueueAsync(chat.Item1, chat.Item2, message, request, None);
        })).ToList();
        await Task.Delay(300);
        commit.Release();
        await regenerate;
        var results = await Task.WhenAll(sends);

        Assert.That(results[0], Is.Null, "the busy chat's send is refused");
        Assert.That(results[1], Is.Not.Null, "the other chat's send is stored");
        Assert.That(await Db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM messages WHERE content = 'send'"), Is.EqualTo(1), "only the stored send's message");
        Assert.That(await Db.ScalarAsync<long>(
            "SELECT COUNT(*) FROM relay_requests WHERE status IN ('pending', 'dispatched', 'streaming')"), Is.EqualTo(2));
    }

    [Test]
    public async Task ManySessionsSendingAndAnsweringAtOnce_LoseNothingAndHitNoLockErrors()
    {
        const int sessionCount = 100;
        const int turns = 10;
        var (owner, chats) = await SeedAsync(Db.Services, sessionCount);
        var failures = new ConcurrentQueue<Exception>();
        using var stopReading = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() => ReadUntilStoppedAsync(chats, failures,
            stopReading.Token))).ToList();
        var clock = Stopwatch.StartNew();

        var conversations = chats.Select(chat => Task.Run(async () =>
        {
            try
            {
                for (var turn = 0; turn < turns; turn++)
                {
                    var request = await SendAsync(Db.Services, owner, chat, $"question {turn}", At(turn));
                    await AnswerAsync(Db.Services, request, $"answer {turn}", At(turn));
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
            }
        })).ToList();
        await Task.WhenAll(conversations);
        clock.Stop();
        await stopReading.CancelAsync();
        await Task.WhenAll(readers);

        var stored = await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages");
        await TestContext.Out.WriteLineAsync(
            $"{stored} messages and {sessionCount * turns * 2} transactions in {clock.ElapsedMilliseconds} ms " +
            $"({stored * 1000 / Math.Max(1, clock.ElapsedMilliseconds)} messages/s)");
        Assert.That(failures, Is.Empty);
        Assert.That(stored, Is.EqualTo(sessionCount * turns * 2));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'completed'"),
            Is.EqualTo(sessionCount * turns));
    }

    [Test]
    public async Task TwoHostsOnOneDatabase_WritingAtOnce_HitNoLockErrors()
    {
        // A second DI container has its own pool (and, for SQLite, its own write queue), so here the two meet inside
        // the database as two processes would: for SQLite, BEGIN IMMEDIATE and the busy timeout must sort them out.
        var second = Db.StartHost();
        var (owner, chats) = await SeedAsync(Db.Services, 40);
        using var start = new ManualResetEventSlim();

        var sends = chats.Select((chat, i) => Task.Run(async () =>
        {
            start.Wait();
            var host = i % 2 == 0 ? Db.Services : second;
            for (var turn = 0; turn < 5; turn++)
            {
                var request = await SendAsync(host, owner, chat, $"q{turn}", At(turn));
                await AnswerAsync(host, request, $"a{turn}", At(turn));
            }
        })).ToList();
        start.Set();
        await Task.WhenAll(sends);

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(40 * 5 * 2));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'completed'"),
            Is.EqualTo(40 * 5));
    }

    private static async Task<(User Owner, List<Chat> Sessions)> SeedAsync(IServiceProvider root, int count)
    {
        await using var scope = root.CreateAsyncScope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chats = new List<Chat>();
        for (var i = 0; i < count; i++)
        {
            chats.Add(await AddSessionAsync(scope.ServiceProvider, owner));
        }

        return (owner, chats);
    }

    /// <summary>What SendMessage does: refuse while an answer is pending, else store message and request together.</summary>
    private static async Task<RelayRequest> SendAsync(
        IServiceProvider root, User owner, Chat chat, string text, DateTimeOffset now)
    {
        await using var scope = root.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var message = Message.Restore(MessageId.New(), chat.Id, MessageRole.User, text, MessageSource.User, null,
            null, now);
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, now);
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            if (await requests.GetUnfinishedForSessionAsync(chat.Id, ct) is not null)
            {
                throw new InvalidOperationException("an answer is still pending");
            }

            await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
            await requests.AddAsync(request, ct);
            var stored = await services.GetRequiredService<IChatRepository>().GetAsync(chat.Id, ct);
            stored!.Touch(now);
            await services.GetRequiredService<IChatRepository>().UpdateAsync(stored, ct);
            return true;
        }, None);
        return request;
    }

    /// <summary>What the relay does with a final: store the answer and complete the request together.</summary>
    private static async Task AnswerAsync(IServiceProvider root, RelayRequest request, string text, DateTimeOffset now)
    {
        await using var scope = root.CreateAsyncScope();
        var services = scope.ServiceProvider;
        request.Dispatch(now, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        var answer = Message.Answer(request.ChatId, request.Id, text, MessageSource.Model, new TokenCounts(3, 4), now);
        request.Complete(answer.Id, now);
        await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await services.GetRequiredService<IMessageRepository>().AddAsync(answer, ct);
            await services.GetRequiredService<IRelayRequestRepository>().UpdateAsync(request, ct);
            return true;
        }, None);
        await services.GetRequiredService<IMetricsRecorder>().RecordAsync(new RequestMetric(request.Id.Value,
            request.ChatId.Value, now, 1, 2, 3, 3, 4, false, "completed"), None);
    }

    private async Task ReadUntilStoppedAsync(
        List<Chat> chats, ConcurrentQueue<Exception> failures, CancellationToken stop)
    {
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var scope = Db.Services.CreateAsyncScope();
                var reads = scope.ServiceProvider.GetRequiredService<IChatReadModel>();
                var chat = chats[i++ % chats.Count];
                await reads.GetMessagesPageAsync(chat.Id, null, 20, None);
                await reads.GetRecentTurnsAsync(chat.Id, 10, None);
                await reads.CountQueuedAsync(None);
                await Task.Delay(1, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
                return;
            }
        }
    }
}

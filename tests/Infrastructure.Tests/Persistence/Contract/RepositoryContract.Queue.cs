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

/// <summary>Queueing a question (the conditional write with its chat's version), chats that keep nothing, what a request keeps, and deleting a chat.</summary>
public abstract partial class RepositoryContract
{
    [Test]
    public async Task Session_WithAnswerState_TellsWhetherARequestIsUnanswered()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var other = await AddSessionAsync(services, owner);

        var quiet = await chats.GetWithAnswerStateAsync(chat.Id, None);
        var request = await AddRequestAsync(services, other, owner, At(1));
        var pendingElsewhere = await chats.GetWithAnswerStateAsync(chat.Id, None);
        var pending = await chats.GetWithAnswerStateAsync(other.Id, None);
        request.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.UpdateAsync(request, None);
        var inFlight = await chats.GetWithAnswerStateAsync(other.Id, None);
        request.Complete(MessageId.New(), At(3));
        await requests.UpdateAsync(request, None);
        var answered = await chats.GetWithAnswerStateAsync(other.Id, None);

        Assert.Multiple(() =>
        {
            Assert.That(quiet!.Chat.Id, Is.EqualTo(chat.Id));
            Assert.That(quiet.Chat.Title, Is.EqualTo(chat.Title));
            Assert.That(quiet.IsAnswering, Is.False);
            Assert.That(pendingElsewhere!.IsAnswering, Is.False, "another session's request does not count");
            Assert.That(pending!.IsAnswering, Is.True);
            Assert.That(inFlight!.IsAnswering, Is.True);
            Assert.That(answered!.IsAnswering, Is.False);
        });
        Assert.That(await chats.GetWithAnswerStateAsync(new ChatId(Guid.NewGuid()), None), Is.Null);
    }

    [Test]
    public async Task Session_MarkedToKeepNothing_IsForgettableOnlyPastItsTime_AndNotWhileAQuestionIsUnderWay()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var marked = await AddSessionAsync(services, owner);
        var asking = await AddSessionAsync(services, owner);
        var unmarked = await AddSessionAsync(services, owner);
        await chats.ForgetAfterAsync(marked.Id, At(60), None);
        await chats.ForgetAfterAsync(asking.Id, At(60), None);
        var request = await AddRequestAsync(services, asking, owner, At(1));

        var early = await chats.ListForgettableAsync(At(59), 100, None);
        var due = await chats.ListForgettableAsync(At(61), 100, None);
        request.Dispatch(At(62), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        request.Complete(MessageId.New(), At(63));
        await requests.UpdateAsync(request, None);
        var answered = await chats.ListForgettableAsync(At(64), 100, None);

        Assert.Multiple(() =>
        {
            Assert.That(early, Does.Not.Contain(marked.Id).And.Not.Contain(asking.Id), "not before its time");
            Assert.That(due, Does.Contain(marked.Id));
            Assert.That(due, Does.Not.Contain(asking.Id), "a question under way keeps it");
            Assert.That(answered, Does.Contain(asking.Id).And.Contain(marked.Id));
            Assert.That(answered, Does.Not.Contain(unmarked.Id), "an ordinary chat is never forgettable");
        });
    }

    /// <summary>
    /// A send as SendMessage makes it: the chat as read (or as the last send stored it), the user's message posted in
    /// it at <paramref name="at"/>, and the message's pending request, queued only at <paramref name="version"/>.
    /// </summary>

    private static async Task<(string? Version, Message Message, RelayRequest Request)> QueueAsync(
        IServiceProvider services, Chat chat, User owner, string version, DateTimeOffset at)
    {
        var message = chat.PostUserMessage(owner, PromptText.From("question at " + at.ToString("O")), at);
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, at);
        var stored = await services.GetRequiredService<IRelayRequestRepository>()
            .TryQueueAsync(chat, version, message, request, None);
        return (stored, message, request);
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Start_StoresTheChat_AndReturnsTheVersionARead_Sees_WhichAQuestionIsQueuedAgainst(bool inUnitOfWork)
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var owner = await AddUserAsync(services);
        var chat = Chat.Start(owner, ChatTitle.From("started"), null, null, null, At(1));

        var version = inUnitOfWork
            ? await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(ct => chats.StartAsync(chat, ct), None)
            : await chats.StartAsync(chat, None);

        var read = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;
        Assert.That(read.Chat.Title.Value, Is.EqualTo("started"));
        Assert.That(version, Is.EqualTo(read.Version));
        var queued = await QueueAsync(services, read.Chat, owner, version, At(2));
        Assert.That(queued.Version, Is.Not.Null, "queued against the version the chat was started with");
        var stale = await QueueAsync(services, read.Chat, owner, version, At(3));
        Assert.That(stale.Version, Is.Null, "the version moved on with the question");
    }

    [Test]
    public async Task Start_InsideAUnitOfWork_IsRolledBackWithIt()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var owner = await AddUserAsync(services);
        var chat = Chat.Start(owner, ChatTitle.From("never kept"), null, null, null, At(1));

        Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<IUnitOfWork>()
            .InTransactionAsync<bool>(async ct =>
            {
                await chats.StartAsync(chat, ct);
                throw new InvalidOperationException("the question could not be stored");
            }, None));

        Assert.That(await chats.GetAsync(chat.Id, None), Is.Null, "the chat went with the unit of work");
    }

    [Test]
    public async Task Queue_StoresTheMessageTheRequestAndTheChatsTime_OnlyAtTheVersionRead_AndNotWhileAnswering()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var messages = services.GetRequiredService<IMessageRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;

        var first = await QueueAsync(services, read.Chat, owner, read.Version, At(5));

        Assert.That(first.Version, Is.Not.Null.And.Not.EqualTo(read.Version));
        Assert.That((await messages.GetAsync(first.Message.Id, None))?.Content, Is.EqualTo(first.Message.Content));
        var queued = await requests.GetAsync(first.Request.Id, None);
        Assert.That(queued?.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(queued!.UserMessageId, Is.EqualTo(first.Message.Id));
        var after = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;
        Assert.That(after.Chat.UpdatedAt, Is.EqualTo(At(5)));
        Assert.That(after.IsAnswering, Is.True);
        Assert.That(after.Version, Is.EqualTo(first.Version), "the version returned is the one a read now sees");

        var whileAnswering = await QueueAsync(services, after.Chat, owner, first.Version!, At(6));
        Assert.That(whileAnswering.Version, Is.Null, "a request of the chat is still unanswered");
        Assert.That(await messages.GetAsync(whileAnswering.Message.Id, None), Is.Null);
        Assert.That(await requests.GetAsync(whileAnswering.Request.Id, None), Is.Null);

        queued.Cancel(At(7));
        await requests.UpdateAsync(queued, None);
        var stale = await QueueAsync(services, read.Chat, owner, read.Version, At(8));
        Assert.That(stale.Version, Is.Null, "the chat changed since that version was read");
        Assert.That(await requests.GetAsync(stale.Request.Id, None), Is.Null);

        var second = await QueueAsync(services, after.Chat, owner, first.Version!, At(9));
        Assert.That(second.Version, Is.Not.Null, "answered, and still as the first send stored it");
        Assert.That((await chats.GetAsync(chat.Id, None))!.UpdatedAt, Is.EqualTo(At(9)));
    }

    [Test]
    public async Task Queue_InsideAUnitOfWork_IsPartOfIt_RolledBackWithIt_AndSeenByItsNextStatements()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;

        (string? Version, Message Message, RelayRequest Request) queued = (null, null!, null!);
        RelayRequest? seenInside = null;
        Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<IUnitOfWork>()
            .InTransactionAsync<int>(async _ =>
            {
                queued = await QueueAsync(services, read.Chat, owner, read.Version, At(5));
                seenInside = await requests.GetAsync(queued.Request.Id, None);
                throw new InvalidOperationException("the unit fails after queueing");
            }, None));

        Assert.That(queued.Version, Is.Not.Null);
        Assert.That(seenInside?.Status, Is.EqualTo(RelayRequestStatus.Pending), "queued in the unit's own transaction");
        Assert.That(await requests.GetAsync(queued.Request.Id, None), Is.Null, "rolled back with the unit");
        Assert.That(await services.GetRequiredService<IMessageRepository>().GetAsync(queued.Message.Id, None), Is.Null);
        Assert.That((await chats.GetWithAnswerStateAsync(chat.Id, None))!.Version, Is.EqualTo(read.Version));
    }

    [Test]
    public async Task Queue_InAChatRenamedOrClosedSince_StoresNothing()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var chats = services.GetRequiredService<IChatRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var read = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;

        chat.Rename(owner, ChatTitle.From("Renamed"), At(3));
        await chats.UpdateAsync(chat, None);
        var renamed = await QueueAsync(services, read.Chat, owner, read.Version, At(4));
        var reread = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;
        chat.Close(owner, At(5));
        await chats.UpdateAsync(chat, None);
        var closed = await QueueAsync(services, reread.Chat, owner, reread.Version, At(6));
        var closedAtItsOwnVersion = (await chats.GetWithAnswerStateAsync(chat.Id, None))!;
        var current = Chat.Restore(chat.Id, chat.OwnerId, chat.Title, ChatStatus.Active, chat.Model,
            chat.SystemPrompt, chat.Sampling, chat.CreatedAt, chat.UpdatedAt, null);
        var stillClosed = await QueueAsync(services, current, owner, closedAtItsOwnVersion.Version, At(7));

        Assert.Multiple(() =>
        {
            Assert.That(renamed.Version, Is.Null);
            Assert.That(closed.Version, Is.Null);
            Assert.That(stillClosed.Version, Is.Null, "a closed chat takes no message, whatever the caller believes");
        });
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.Zero);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.Zero);
        Assert.That((await chats.GetAsync(chat.Id, None))!.Title.Value, Is.EqualTo("Renamed"));
    }

    [Test]
    public async Task Queue_KeepsTheRequestsGenerationOptions()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var state = await services.GetRequiredService<IChatRepository>().GetWithAnswerStateAsync(chat.Id, None);
        var message = chat.PostUserMessage(owner, PromptText.From("json please"), At(1));
        var options = GenerationOptions.Create(["}"], seed: 7, responseFormat: """{"type":"json_object"}""", modelOnly: true);
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1), options);

        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.TryQueueAsync(state!.Chat, state.Version, message, request, None), Is.Not.Null);

        Assert.That((await requests.GetAsync(request.Id, None))!.Options, Is.EqualTo(options));
    }

    [Test]
    public async Task Queue_KeepsTheTraceContextOfTheSend_AndDispatchingKeepsIt()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var state = await services.GetRequiredService<IChatRepository>().GetWithAnswerStateAsync(chat.Id, None);
        var message = chat.PostUserMessage(owner, PromptText.From("trace me"), At(1));
        const string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1),
            traceParent: traceParent);

        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.TryQueueAsync(state!.Chat, state.Version, message, request, None), Is.Not.Null);
        var queued = await requests.GetAsync(request.Id, None);
        queued!.Dispatch(At(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
        await requests.TryUpdateManyAsync([queued], RelayRequestStatus.Pending, None);

        var dispatched = await requests.GetAsync(request.Id, None);
        Assert.Multiple(() =>
        {
            Assert.That(queued.TraceParent, Is.EqualTo(traceParent));
            Assert.That(dispatched!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
            Assert.That(dispatched.TraceParent, Is.EqualTo(traceParent));
        });
    }

    [Test]
    public async Task Queue_OfAQuestionPlacedOnAHostBeforeItsWrite_StoresItDispatchedToThatHostAndItsRun()
    {
        // A started chat's question placed at once (EarlyDispatch): stored as sent, the dispatcher has nothing to claim.
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var state = await services.GetRequiredService<IChatRepository>().GetWithAnswerStateAsync(chat.Id, None);
        var message = chat.PostUserMessage(owner, PromptText.From("placed"), At(1));
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1));
        var (host, run) = (Guid.NewGuid(), Guid.NewGuid());
        request.Dispatch(At(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), host, "routed", run);

        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.TryQueueAsync(state!.Chat, state.Version, message, request, None), Is.Not.Null);

        var stored = await requests.GetAsync(request.Id, None);
        Assert.Multiple(() =>
        {
            Assert.That(stored!.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
            Assert.That(stored.Attempts, Is.EqualTo(1));
            Assert.That(stored.WorkerId, Is.EqualTo(host));
            Assert.That(stored.SentToRun, Is.EqualTo(run), "the host's run, so a restart of it is told from a late ack");
            Assert.That(stored.RoutedModel, Is.EqualTo("routed"));
            Assert.That(stored.DispatchedAt, Is.EqualTo(At(1)));
            Assert.That(stored.AckDeadline, Is.EqualTo(At(1) + TimeSpan.FromSeconds(5)));
            Assert.That(stored.CompletionDeadline, Is.EqualTo(At(1) + TimeSpan.FromSeconds(60)));
        });
        Assert.That(await requests.ClaimPendingAsync(10, 100, At(2), At(3), "dispatcher", None), Is.Empty,
            "nothing pending to claim");
    }

    [Test]
    public async Task DeletingAChat_LeavesNothingOfIt_AndOtherChatsStay()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var gone = await AddSessionAsync(services, owner);
        var kept = await AddSessionAsync(services, owner);
        var goneRequest = await AddRequestAsync(services, gone, owner, At(1));
        var keptRequest = await AddRequestAsync(services, kept, owner, At(2));
        await AddMessageAsync(services, gone, MessageSource.Model, "an answer", At(3));

        await services.GetRequiredService<IChatRepository>().DeleteAsync(gone.Id, None);
        await services.GetRequiredService<IChatRepository>().DeleteAsync(gone.Id, None); // gone already: no error

        var chats = services.GetRequiredService<IChatRepository>();
        var reads = services.GetRequiredService<IChatReadModel>();
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await chats.GetAsync(gone.Id, None), Is.Null);
        Assert.That(await reads.GetTranscriptAsync(gone.Id, false, None), Is.Empty);
        Assert.That(await requests.GetAsync(goneRequest.Id, None), Is.Null);
        Assert.That(await chats.GetAsync(kept.Id, None), Is.Not.Null);
        Assert.That(await requests.GetAsync(keptRequest.Id, None), Is.Not.Null);
        Assert.That(await reads.GetTranscriptAsync(kept.Id, false, None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task FindChatsEndingWith_FindsTheOwnersOpenChatsWhoseLastMessageIsThatAnswer()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var other = await AddUserAsync(services);
        var older = await AddSessionAsync(services, owner, At(1));
        var newer = await AddSessionAsync(services, owner, At(2));
        var answeredOtherwise = await AddSessionAsync(services, owner, At(3));
        var someoneElses = await AddSessionAsync(services, other, At(4));
        var askedAgain = await AddSessionAsync(services, owner, At(5));
        foreach (var chat in new[] { older, newer, someoneElses, askedAgain })
        {
            await AddMessageAsync(services, chat, MessageSource.User, "q", At(6));
            await AddMessageAsync(services, chat, MessageSource.Model, "the answer", At(7));
        }

        await AddMessageAsync(services, answeredOtherwise, MessageSource.Model, "another answer", At(7));
        await AddMessageAsync(services, askedAgain, MessageSource.User, "the answer", At(8));

        var found = await services.GetRequiredService<IChatReadModel>()
            .FindChatsEndingWithAsync(owner.Id, "the answer", 5, None);

        Assert.That(found.Select(c => c.Id), Is.EquivalentTo(new[] { older.Id, newer.Id }));
        Assert.That(await services.GetRequiredService<IChatReadModel>()
            .FindChatsEndingWithAsync(owner.Id, "the answer", 1, None), Has.Count.EqualTo(1));
    }
}

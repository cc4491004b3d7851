using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>Regenerate and edit-and-resend cut a chat's tail; the same on every provider.</summary>
public abstract class ChatHistoryEditorContract : ScopedDatabaseContract
{
    private IChatHistoryEditor _editor = null!;
    private User _owner = null!;
    private ChatSession _session = null!;

    [SetUp]
    public async Task SetUp()
    {
        _editor = Services.GetRequiredService<IChatHistoryEditor>();
        _owner = await AddUserAsync(Services);
        _session = await AddSessionAsync(Services, _owner);
    }

    /// <summary>q1 → a1 (answered), q2 → a2 (answered); returns q2's request.</summary>
    private async Task<(RelayRequest First, RelayRequest Last)> TwoAnsweredTurnsAsync()
    {
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        var first = await AddRequestAsync(Services, _session, _owner, At(1));
        var a1 = await AddMessageAsync(Services, _session, MessageSource.Model, "a1", At(2));
        first.Dispatch(At(1), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        first.Complete(a1.Id, At(2));
        await requests.UpdateAsync(first, None);
        var last = await AddRequestAsync(Services, _session, _owner, At(3));
        var a2 = await AddMessageAsync(Services, _session, MessageSource.Model, "a2", At(4));
        last.Dispatch(At(3), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        last.Complete(a2.Id, At(4));
        await requests.UpdateAsync(last, None);
        return (first, last);
    }

    private Task<IReadOnlyList<Application.Common.Models.MessageDto>> MessagesAsync() =>
        Services.GetRequiredService<IChatReadModel>().GetMessagesPageAsync(_session.Id, null, 100, None);

    [Test]
    public async Task LastUserMessage_IsTheNewestOfTheUsersMessages()
    {
        var (_, last) = await TwoAnsweredTurnsAsync();

        Assert.That(await _editor.GetLastUserMessageIdAsync(_session.Id, None), Is.EqualTo(last.UserMessageId));
    }

    [Test]
    public async Task RemoveAfter_TheLastQuestion_DropsOnlyItsAnswer()
    {
        var (_, last) = await TwoAnsweredTurnsAsync();

        await _editor.RemoveAfterAsync(_session.Id, last.UserMessageId, None);

        Assert.That((await MessagesAsync()).Select(m => m.Content), Is.EqualTo(new[] { "question", "a1", "question" }));
    }

    [Test]
    public async Task RemoveFrom_TheLastQuestion_DropsItItsAnswerAndItsFinishedRequest()
    {
        var (first, last) = await TwoAnsweredTurnsAsync();

        await _editor.RemoveFromAsync(_session.Id, last.UserMessageId, None);

        Assert.That((await MessagesAsync()).Select(m => m.Content), Is.EqualTo(new[] { "question", "a1" }));
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.GetAsync(last.Id, None), Is.Null);
        Assert.That(await requests.GetAsync(first.Id, None), Is.Not.Null, "earlier turns stay");
    }

    /// <summary>Regenerate and edit cut the tail inside the unit of work that queues the new request.</summary>
    [Test]
    public async Task RemoveAfter_InsideAUnitOfWork_DropsOnlyTheLastAnswer()
    {
        var (_, last) = await TwoAnsweredTurnsAsync();

        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await _editor.RemoveAfterAsync(_session.Id, last.UserMessageId, ct);
            return true;
        }, None);

        Assert.That((await MessagesAsync()).Select(m => m.Content), Is.EqualTo(new[] { "question", "a1", "question" }));
    }

    [Test]
    public async Task RemoveFrom_InsideAUnitOfWork_DropsTheQuestionItsAnswerAndItsFinishedRequest()
    {
        var (first, last) = await TwoAnsweredTurnsAsync();

        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await _editor.RemoveFromAsync(_session.Id, last.UserMessageId, ct);
            return true;
        }, None);

        Assert.That((await MessagesAsync()).Select(m => m.Content), Is.EqualTo(new[] { "question", "a1" }));
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.GetAsync(last.Id, None), Is.Null);
        Assert.That(await requests.GetAsync(first.Id, None), Is.Not.Null, "earlier turns stay");
    }

    [Test]
    public async Task RemoveFrom_AQuestionAnUnansweredRequestAsks_IsRefusedAndRemovesNothing()
    {
        // A send that raced the edit has queued a request for the question the edit removes: the request's foreign
        // key to its message refuses the removal, so no request is left asking a message that is gone.
        var (first, _) = await TwoAnsweredTurnsAsync();
        var queued = await AddRequestAsync(Services, _session, _owner, At(5));

        var ex = Assert.CatchAsync(() => _editor.RemoveFromAsync(_session.Id, queued.UserMessageId, None));

        Assert.That(Db.IsConstraintViolation(ex!), Is.True, ex!.Message);
        Assert.That((await MessagesAsync()).Select(m => m.Content),
            Is.EqualTo(new[] { "question", "a1", "question", "a2", "question" }));
        var requests = Services.GetRequiredService<IRelayRequestRepository>();
        Assert.That(await requests.GetAsync(queued.Id, None), Is.Not.Null);
        Assert.That(await requests.GetAsync(first.Id, None), Is.Not.Null);
    }
}

[TestFixture]
public sealed class SqliteChatHistoryEditorTests : ChatHistoryEditorContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresChatHistoryEditorTests : ChatHistoryEditorContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

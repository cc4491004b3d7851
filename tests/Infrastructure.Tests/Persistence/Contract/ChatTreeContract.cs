using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// A chat's tree and current path (migration 0031): stored messages continue the path, an edit or a regenerate cuts it
/// so the next message is a sibling, switching moves it; the page, the transcript and the model's turns follow it. The
/// same on every provider.
/// </summary>
public abstract class ChatTreeContract : ScopedDatabaseContract
{
    private IChatTree _trees = null!;
    private User _owner = null!;
    private Chat _chat = null!;

    [SetUp]
    public async Task SetUp()
    {
        _trees = Services.GetRequiredService<IChatTree>();
        _owner = await AddUserAsync(Services);
        _chat = await AddSessionAsync(Services, _owner);
    }

    /// <summary>q1 a1 q2 a2 q3: five messages on one path.</summary>
    private async Task<Message[]> FiveMessagesAsync() =>
    [
        await AddMessageAsync(Services, _chat, MessageSource.User, "q1", At(1)),
        await AddMessageAsync(Services, _chat, MessageSource.Model, "a1", At(2)),
        await AddMessageAsync(Services, _chat, MessageSource.User, "q2", At(3)),
        await AddMessageAsync(Services, _chat, MessageSource.Model, "a2", At(4)),
        await AddMessageAsync(Services, _chat, MessageSource.User, "q3", At(5)),
    ];

    private Task<IReadOnlyList<MessageDto>> PageAsync() =>
        Services.GetRequiredService<IChatReadModel>().GetMessagesPageAsync(_chat.Id, null, 100, None);

    private async Task MoveAsync(Func<ConversationTree, PathChange> change) =>
        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await _trees.MoveAsync(_chat.Id, change(await _trees.GetLockedAsync(_chat.Id, ct)), ct);
            return true;
        }, None);

    [Test]
    public async Task StoredMessages_EachFollowTheOneBefore_OnOnePath()
    {
        var messages = await FiveMessagesAsync();

        var page = await PageAsync();

        Assert.That(page.Select(m => m.ParentId),
            Is.EqualTo(messages[..^1].Select(m => (Guid?)m.Id.Value).Prepend(null)));
        Assert.That(page.Select(m => (m.SiblingIndex, m.SiblingCount)), Has.All.EqualTo(((int?)0, (int?)1)));
    }

    [Test]
    public async Task AMessageStoredAfterTheCut_IsASiblingOfTheEditedOne_AndThePageShowsTheNewBranch()
    {
        var m = await FiveMessagesAsync();

        await MoveAsync(tree => tree.BranchAt(m[2].Id));
        var edited = await AddMessageAsync(Services, _chat, MessageSource.User, "q2 edited", At(6));
        await AddMessageAsync(Services, _chat, MessageSource.Model, "a2 new", At(7));

        var page = await PageAsync();
        Assert.That(page.Select(x => x.Content), Is.EqualTo(new[] { "q1", "a1", "q2 edited", "a2 new" }));
        Assert.That(page[2].ParentId, Is.EqualTo(m[1].Id.Value));
        Assert.That(page[2].SiblingIds, Is.EqualTo(new[] { m[2].Id.Value, edited.Id.Value }));
        Assert.That((page[2].SiblingIndex, page[2].SiblingCount), Is.EqualTo(((int?)1, (int?)2)));
        Assert.That(page[3].SiblingCount, Is.EqualTo(1));
        Assert.That((await Services.GetRequiredService<IChatReadModel>().GetTranscriptAsync(_chat.Id, true, None))
            .Select(x => x.Content), Is.EqualTo(new[] { "q1", "a1", "q2", "a2", "q3", "q2 edited", "a2 new" }),
            "the whole tree keeps the old branch");
    }

    [Test]
    public async Task SwitchingBack_ShowsTheOldBranchToItsEnd_AndTheModelReadsIt()
    {
        var m = await FiveMessagesAsync();
        await MoveAsync(tree => tree.BranchAt(m[2].Id));
        await AddMessageAsync(Services, _chat, MessageSource.User, "q2 edited", At(6));

        await MoveAsync(tree => tree.SwitchTo(m[2].Id));

        Assert.That((await PageAsync()).Select(x => x.Content), Is.EqualTo(new[] { "q1", "a1", "q2", "a2", "q3" }));
        var turns = await Services.GetRequiredService<IChatReadModel>().GetRecentTurnsAsync(_chat.Id, 100, None);
        Assert.That(turns.Select(t => t.Content), Is.EqualTo(new[] { "q1", "a1", "q2", "a2", "q3" }));
        Assert.That((await Services.GetRequiredService<IChatReadModel>().GetTranscriptAsync(_chat.Id, false, None))
            .Select(x => x.Content), Is.EqualTo(new[] { "q1", "a1", "q2", "a2", "q3" }));
    }

    [Test]
    public async Task TheFirstMessage_CanBeEdited_IntoASecondRoot()
    {
        var m = await FiveMessagesAsync();

        await MoveAsync(tree => tree.BranchAt(m[0].Id));
        var root = await AddMessageAsync(Services, _chat, MessageSource.User, "q1 again", At(6));

        var page = await PageAsync();
        Assert.That(page.Select(x => x.Content), Is.EqualTo(new[] { "q1 again" }));
        Assert.That(page[0].ParentId, Is.Null);
        Assert.That(page[0].SiblingIds, Is.EqualTo(new[] { m[0].Id.Value, root.Id.Value }));
    }

    [Test]
    public async Task AnOlderPage_CarriesItsVersionsToo()
    {
        var m = await FiveMessagesAsync();
        await MoveAsync(tree => tree.BranchAt(m[2].Id));
        await AddMessageAsync(Services, _chat, MessageSource.User, "q2 edited", At(6));
        await AddMessageAsync(Services, _chat, MessageSource.Model, "a2 new", At(7));
        var reads = Services.GetRequiredService<IChatReadModel>();

        var newest = await reads.GetMessagesPageAsync(_chat.Id, null, 2, None);
        var older = await reads.GetMessagesPageAsync(_chat.Id, new MessageId(newest[0].Id), 10, None);

        Assert.That(newest.Select(x => (x.Content, x.SiblingCount)), Is.EqualTo(new[] { ("q2 edited", (int?)2), ("a2 new", (int?)1) }));
        Assert.That(older.Select(x => (x.Content, x.SiblingCount)), Is.EqualTo(new[] { ("q1", (int?)1), ("a1", (int?)1) }));
    }
}

[TestFixture]
public sealed class SqliteChatTreeTests : ChatTreeContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresChatTreeTests : ChatTreeContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Sharing;
using MeatLizard.Domain.Messages;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>Share links keep only their token's hash and a copy that later changes of the chat do not reach.</summary>
public abstract class ShareLinkStoreContract : ScopedDatabaseContract
{
    [Test]
    public async Task OnlyTheTokensHash_IsStored_AndTheLinkIsFoundByItAlone()
    {
        var store = Services.GetRequiredService<IShareLinkStore>();
        var owner = await AddUserAsync(Services);
        var chat = await AddSessionAsync(Services, owner, title: "shared");
        var message = await AddMessageAsync(Services, chat, MessageSource.User, "hello", At(1));
        var token = ShareTokens.New();

        var copied = await store.AddAsync(Guid.NewGuid(), owner.Id, chat.Id, message.Id, ShareTokens.Hash(token), At(2), None);

        Assert.That(copied, Is.EqualTo(1));
        Assert.That(await Db.ScalarAsync<string>("SELECT token_hash FROM share_links"), Is.EqualTo(ShareTokens.Hash(token)));
        Assert.That(await Db.ScalarAsync<long>($"SELECT COUNT(*) FROM share_links WHERE token_hash = '{token}'"), Is.Zero);
        Assert.That((await store.GetSharedAsync(ShareTokens.Hash(token), None))!.Messages.Select(m => m.Content),
            Is.EqualTo(new[] { "hello" }));
        Assert.That(await store.GetSharedAsync(token, None), Is.Null, "the token itself is no key");
    }

    [Test]
    public async Task ACopyUpToAMessage_HoldsItsPathOnly_NotTheOtherBranch()
    {
        var store = Services.GetRequiredService<IShareLinkStore>();
        var owner = await AddUserAsync(Services);
        var chat = await AddSessionAsync(Services, owner, title: "branched");
        await AddMessageAsync(Services, chat, MessageSource.User, "q1", At(1));
        await AddMessageAsync(Services, chat, MessageSource.Model, "a1", At(2));
        var q2 = await AddMessageAsync(Services, chat, MessageSource.User, "q2", At(3));
        var a2 = await AddMessageAsync(Services, chat, MessageSource.Model, "a2", At(4));
        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            var trees = Services.GetRequiredService<IChatTree>();
            await trees.MoveAsync(chat.Id, (await trees.GetLockedAsync(chat.Id, ct)).BranchAt(q2.Id), ct);
            return true;
        }, None);
        await AddMessageAsync(Services, chat, MessageSource.User, "q2 edited", At(5));
        var end = await AddMessageAsync(Services, chat, MessageSource.Model, "a2 edited", At(6));

        var token = ShareTokens.New();
        Assert.That(await store.FindEndAsync(chat.Id, null, None), Is.EqualTo(end.Id), "the default end is the path's");
        Assert.That(await store.AddAsync(Guid.NewGuid(), owner.Id, chat.Id, a2.Id, ShareTokens.Hash(token), At(7), None),
            Is.EqualTo(4));
        Assert.That((await store.GetSharedAsync(ShareTokens.Hash(token), None))!.Messages.Select(m => m.Content),
            Is.EqualTo(new[] { "q1", "a1", "q2", "a2" }));
    }

    [Test]
    public async Task TheCopy_OutlivesTheChatsLaterChanges_AndGoesWithARevoke()
    {
        var store = Services.GetRequiredService<IShareLinkStore>();
        var owner = await AddUserAsync(Services);
        var chat = await AddSessionAsync(Services, owner, title: "shared");
        var first = await AddMessageAsync(Services, chat, MessageSource.User, "kept", At(1));
        await AddMessageAsync(Services, chat, MessageSource.Model, "kept too", At(2));
        var id = Guid.NewGuid();
        var token = ShareTokens.New();
        await store.AddAsync(id, owner.Id, chat.Id, (await store.FindEndAsync(chat.Id, null, None))!.Value,
            ShareTokens.Hash(token), At(3), None);

        await Services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            // The first question edited: the shared messages leave the chat's path, a new version takes their place.
            var trees = Services.GetRequiredService<IChatTree>();
            await trees.MoveAsync(chat.Id, (await trees.GetLockedAsync(chat.Id, ct)).BranchAt(first.Id), ct);
            return true;
        }, None);
        await AddMessageAsync(Services, chat, MessageSource.User, "written later", At(4));

        Assert.That((await store.GetSharedAsync(ShareTokens.Hash(token), None))!.Messages.Select(m => m.Content),
            Is.EqualTo(new[] { "kept", "kept too" }));
        Assert.That(await store.RevokeAsync(owner.Id, id, At(5), None), Is.True);
        Assert.That(await store.GetSharedAsync(ShareTokens.Hash(token), None), Is.Null);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM share_link_messages"), Is.Zero, "the copy is deleted");
    }
}

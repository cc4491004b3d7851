using MeatLizard.Infrastructure.Telegram;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// The Telegram bot's offset and pending updates (migration 0021): kept across restarts, the offset forward only,
/// an update stored twice kept once, per bot; the same on every provider. Update ids are 32-bit today; the columns
/// are 64-bit.
/// </summary>
public abstract class TelegramUpdateInboxContract : DatabaseContract
{

    [Test]
    public async Task NothingStored_ReadsOffsetZero_AndNoPendingUpdate()
    {
        Assert.That(await Inbox(Db.Services, i => i.ReadOffsetAsync("42", None)), Is.EqualTo(0));
        Assert.That(await Inbox(Db.Services, i => i.ReadPendingAsync("42", None)), Is.Empty);
    }

    [Test]
    public async Task AcceptedUpdates_AndTheOffset_AreReadBackAfterARestart_OldestFirst()
    {
        await Inbox(Db.Services, i => i.AcceptAsync("42", [Update(702), Update(701)], 703, None));

        await using var restarted = Db.StartHost();
        Assert.That(await Inbox(restarted, i => i.ReadOffsetAsync("42", None)), Is.EqualTo(703));
        Assert.That(await Inbox(restarted, i => i.ReadPendingAsync("42", None)), Is.EqualTo(new[] { Update(701), Update(702) }));
    }

    [Test]
    public async Task TheOffset_OnlyMovesForward_AndAnUpdateStoredTwice_IsKeptOnceAsFirstStored()
    {
        await Inbox(Db.Services, i => i.AcceptAsync("42", [Update(10)], 11, None));
        await Inbox(Db.Services, i => i.AcceptAsync("42", [new StoredTelegramUpdate(10, "{\"other\":true}"), Update(9)], 10, None));

        Assert.That(await Inbox(Db.Services, i => i.ReadOffsetAsync("42", None)), Is.EqualTo(11));
        Assert.That(await Inbox(Db.Services, i => i.ReadPendingAsync("42", None)), Is.EqualTo(new[] { Update(9), Update(10) }));
    }

    [Test]
    public async Task ACompletedUpdate_IsNoLongerPending_OthersStay_AndAnotherBotsQueueIsApart()
    {
        await Inbox(Db.Services, i => i.AcceptAsync("42", [Update(1), Update(2)], 3, None));
        await Inbox(Db.Services, i => i.AcceptAsync("43", [Update(1)], long.MaxValue, None));

        await Inbox(Db.Services, i => i.CompleteAsync("42", 1, None));

        Assert.That(await Inbox(Db.Services, i => i.ReadPendingAsync("42", None)), Is.EqualTo(new[] { Update(2) }));
        Assert.That(await Inbox(Db.Services, i => i.ReadPendingAsync("43", None)), Is.EqualTo(new[] { Update(1) }));
        Assert.That(await Inbox(Db.Services, i => i.ReadOffsetAsync("43", None)), Is.EqualTo(long.MaxValue));
        Assert.That(await Inbox(Db.Services, i => i.ReadOffsetAsync("42", None)), Is.EqualTo(3));
    }

    private static StoredTelegramUpdate Update(long id) => new(id, $"{{\"update_id\":{id}}}");

    private static async Task<T> Inbox<T>(IServiceProvider services, Func<ITelegramUpdateInbox, Task<T>> work)
    {
        await using var scope = services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>());
    }

    private static async Task Inbox(IServiceProvider services, Func<ITelegramUpdateInbox, Task> work)
    {
        await using var scope = services.CreateAsyncScope();
        await work(scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>());
    }
}

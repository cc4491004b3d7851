using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>The first admin and the sign-up policy (migration 0027): invites, accounts awaiting approval, admin counts.</summary>
public abstract class RegistrationStoresContract : ScopedDatabaseContract
{
    private IUserRepository Users => Services.GetRequiredService<IUserRepository>();

    private IInviteRepository Invites => Services.GetRequiredService<IInviteRepository>();

    [Test]
    public async Task Invite_IsStoredByItsHash_AndMarkedUsedOnlyOnce()
    {
        var alice = await AddUserAsync(Services, "alice");
        var invite = Invite.Create("hash-1", "user:1 (root)", T0, TimeSpan.FromHours(2));
        await Invites.AddAsync(invite, None);

        var first = (await Invites.GetByCodeHashAsync("hash-1", None))!;
        var second = (await Invites.GetByCodeHashAsync("hash-1", None))!;
        first.Use(alice.Id, At(10));
        second.Use(UserId.New(), At(11));

        Assert.That(await Invites.TryMarkUsedAsync(first, None), Is.True);
        Assert.That(await Invites.TryMarkUsedAsync(second, None), Is.False, "read before the first was stored: refused");
        var stored = (await Invites.GetAsync(invite.Id, None))!;
        Assert.That((stored.UsedAt, stored.UsedBy, stored.CreatedBy, stored.ExpiresAt, stored.GrantsAdmin),
            Is.EqualTo((At(10), (UserId?)alice.Id, "user:1 (root)", T0 + TimeSpan.FromHours(2), false)));
        Assert.That(await Invites.GetByCodeHashAsync("another", None), Is.Null);
    }

    [Test]
    public async Task Invite_Revoked_IsNotMarkedUsed_AndTheListShowsAdminsInvitesOnlyNewestFirst()
    {
        var older = Invite.Create("hash-a", "root", T0, TimeSpan.FromHours(2));
        var newer = Invite.Create("hash-b", "root", At(5), TimeSpan.FromHours(2));
        await Invites.AddAsync(older, None);
        await Invites.AddAsync(newer, None);
        await Invites.AddAsync(Invite.ForSetup("hash-setup", At(6)), None);
        var loaded = (await Invites.GetAsync(older.Id, None))!;
        loaded.Revoke(At(7));
        await Invites.UpdateAsync(loaded, None);

        var stale = Invite.Restore(older.Id, "hash-a", false, "root", T0, older.ExpiresAt, null, null, null);
        stale.Use(UserId.New(), At(8));

        Assert.That(await Invites.TryMarkUsedAsync(stale, None), Is.False);
        Assert.That((await Invites.ListAsync(10, None)).Select(i => (i.Id, i.IsRevoked)),
            Is.EqualTo(new[] { (newer.Id, false), (older.Id, true) }));
        Assert.That((await Invites.GetByCodeHashAsync("hash-setup", None))!.GrantsAdmin, Is.True);
    }

    [Test]
    public async Task Invite_Expired_IsNotMarkedUsed()
    {
        var invite = Invite.Create("hash-x", "root", T0, TimeSpan.FromHours(1));
        await Invites.AddAsync(invite, None);
        var late = Invite.Restore(invite.Id, "hash-x", false, "root", T0, At(3600 * 2), null, null, null);
        late.Use(UserId.New(), At(3600 + 1)); // the stored expiry is what counts

        Assert.That(await Invites.TryMarkUsedAsync(late, None), Is.False);
    }

    [Test]
    public async Task PasswordReset_IsTakenOnceByItsHash_BeforeItExpires_AndANewOneReplacesTheOneBefore()
    {
        var alice = await AddUserAsync(Services, "alice");
        var bob = await AddUserAsync(Services, "bob");
        var resets = Services.GetRequiredService<IPasswordResets>();
        await resets.ReplaceAsync(PasswordReset.Create(alice.Id, "reset-1", "root", T0, TimeSpan.FromHours(1)), None);
        await resets.ReplaceAsync(PasswordReset.Create(alice.Id, "reset-2", "root", At(1), TimeSpan.FromHours(1)), None);
        await resets.ReplaceAsync(PasswordReset.Create(bob.Id, "reset-bob", "root", At(2), TimeSpan.FromHours(1)), None);

        Assert.That(await resets.TakeAsync("reset-1", At(10), None), Is.Null, "replaced by the newer one");
        Assert.That(await resets.TakeAsync("reset-2", At(10), None), Is.EqualTo(alice.Id));
        Assert.That(await resets.TakeAsync("reset-2", At(11), None), Is.Null, "used once");
        Assert.That(await resets.TakeAsync("reset-bob", At(2) + TimeSpan.FromHours(1), None), Is.Null, "expired");
        Assert.That(await resets.TakeAsync("unknown", At(10), None), Is.Null);
    }

    [Test]
    public async Task UserAwaitingApproval_IsStoredSo_ListedAsPending_ApprovedOrRejected()
    {
        var alice = await AddUserAsync(Services, "alice");
        var bob = User.Register(Username.From("bob"), "hash", At(1), awaitsApproval: true);
        var carol = User.Register(Username.From("carol"), "hash", At(2), awaitsApproval: true);
        await Users.AddAsync(bob, None);
        await Users.AddAsync(carol, None);
        var reads = Services.GetRequiredService<IAdminReadModel>();

        Assert.That((await Users.GetAsync(bob.Id, None))!.Status, Is.EqualTo(UserStatus.AwaitingApproval));
        Assert.That((await reads.ListUsersAsync(true, 10, None)).Select(u => (u.Username, u.Status)),
            Is.EqualTo(new[] { ("bob", "awaitingApproval"), ("carol", "awaitingApproval") }));
        Assert.That((await reads.ListUsersAsync(false, 10, None)).Select(u => u.Username), Is.EqualTo(new[] { "alice" }),
            "only the accounts not waiting");
        Assert.That((await reads.ListUsersAsync(false, 1, None)).Select(u => u.Username), Is.EqualTo(new[] { "alice" }),
            "the newest not waiting, however many newer ones wait");
        Assert.That((await reads.ListUsersAsync(null, 10, None)).Select(u => u.Username), Is.EqualTo(new[] { "carol", "bob", "alice" }),
            "every account, newest first");

        bob.Approve();
        await Users.UpdateAsync(bob, None);
        Assert.That(await Users.DeleteAwaitingApprovalAsync(alice.Id, None), Is.False, "an active account is never deleted so");
        Assert.That(await Users.DeleteAwaitingApprovalAsync(carol.Id, None), Is.True);

        Assert.That((await Users.GetAsync(bob.Id, None))!.Status, Is.EqualTo(UserStatus.Active));
        Assert.That(await Users.GetAsync(carol.Id, None), Is.Null);
        Assert.That(await reads.ListUsersAsync(true, 10, None), Is.Empty);
        Assert.That((await reads.ListUsersAsync(null, 10, None)).Select(u => u.Username), Is.EqualTo(new[] { "bob", "alice" }),
            "the accounts newest first (those waiting, above, oldest first)");
        Assert.That((await reads.ListUsersAsync(false, 10, None)).Select(u => u.Username), Is.EqualTo(new[] { "bob", "alice" }),
            "bob, approved, waits no longer");
    }

    [Test]
    public async Task TwoAdminsDemotingEachOtherAtOnce_LeaveOneAdmin()
    {
        var first = User.Register(Username.From("first"), "hash", T0, UserRole.Admin);
        var second = User.Register(Username.From("second"), "hash", T0, UserRole.Admin);
        await Users.AddAsync(first, None);
        await Users.AddAsync(second, None);
        using var bothCounted = new SemaphoreSlim(0);

        // As DemoteUser does: count the admins and demote in one transaction. The first holds its transaction open a
        // moment after counting, so without the lock the second would count two as well.
        async Task<bool> DemoteAsync(UserId id, bool holdOpen)
        {
            await using var scope = Db.Services.CreateAsyncScope();
            var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
            try
            {
                return await scope.ServiceProvider.GetRequiredService<Application.Abstractions.IUnitOfWork>()
                    .InTransactionAsync(async ct =>
                    {
                        var admins = await users.CountAdminsAsync(ct);
                        bothCounted.Release();
                        if (holdOpen)
                        {
                            await Task.Delay(500, ct);
                        }

                        var user = (await users.GetAsync(id, ct))!;
                        user.DemoteFromAdmin(admins);
                        await users.UpdateAsync(user, ct);
                        return true;
                    }, None);
            }
            catch (Domain.Common.DomainException)
            {
                return false;
            }
        }

        var one = DemoteAsync(first.Id, holdOpen: true);
        await bothCounted.WaitAsync(TimeSpan.FromSeconds(10));
        var other = DemoteAsync(second.Id, holdOpen: false);
        var results = await Task.WhenAll(one, other);

        Assert.That(results, Is.EqualTo(new[] { true, false }));
        Assert.That(await Users.CountAdminsAsync(None), Is.EqualTo(1));
    }

    [Test]
    public async Task Admins_AreCounted()
    {
        var root = await AddUserAsync(Services, "root");
        Assert.That(await Users.CountAdminsAsync(None), Is.Zero);

        root.PromoteToAdmin();
        await Users.UpdateAsync(root, None);

        Assert.That(await Users.CountAdminsAsync(None), Is.EqualTo(1));
    }
}

[TestFixture]
public sealed class SqliteRegistrationStoresTests : RegistrationStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await SqliteTestDatabase.CreateAsync();
}

[TestFixture]
public sealed class PostgresRegistrationStoresTests : RegistrationStoresContract
{
    protected override async Task<ITestDatabase> CreateDatabaseAsync() => await PostgresTestDatabase.CreateAsync();
}

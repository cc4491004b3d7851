using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// The user read cache in front of a user table held in memory, which counts its reads and, like a database, shows a
/// transaction's writes to others only once it commits.
/// </summary>
public sealed class UserReadCacheTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private static readonly AdminActor Admin = new("test:1", "admin", IsAdmin: true);

    private UserTable _table = null!;
    private SteppingClock _clock = null!;
    private TestPeers _peers = null!;
    private UserReadCache _cache = null!;

    [SetUp]
    public void SetUp()
    {
        _table = new UserTable();
        _clock = new SteppingClock();
        _peers = new TestPeers();
        _cache = NewCache();
    }

    [Test]
    public async Task AUserReadTwice_IsReadFromTheDatabaseOnce()
    {
        var user = _table.Add("alice");
        var scope = Scope();

        var first = await scope.Users.GetAsync(user.Id, None);
        var second = await Scope().Users.GetAsync(user.Id, None);

        Assert.That(first!.Username.Value, Is.EqualTo("alice"));
        Assert.That(second!.Username.Value, Is.EqualTo("alice"));
        Assert.That(_table.Reads, Is.EqualTo(1));
    }

    [Test]
    public async Task ARequestTheCacheAnswers_BuildsNoDatabaseRepository()
    {
        var user = _table.Add("alice");
        await Scope().Users.GetAsync(user.Id, None);
        var built = 0;
        var unitOfWork = new AfterCommitUnitOfWork(_table);
        var users = new CachedUserRepository(new Lazy<IUserRepository>(() =>
        {
            built++;
            return _table.For(unitOfWork);
        }), _cache, unitOfWork);

        var hit = await users.GetAsync(user.Id, None);

        Assert.That(hit!.Username.Value, Is.EqualTo("alice"));
        Assert.That(built, Is.Zero, "a hit needs no repository of the database's");
    }

    [Test]
    public async Task EachHit_IsACopy_SoChangingItChangesNoOtherRequestsUser()
    {
        var user = _table.Add("alice");
        var first = await Scope().Users.GetAsync(user.Id, None);

        first!.Ban();
        var second = await Scope().Users.GetAsync(user.Id, None);

        Assert.That(second!.IsBanned, Is.False);
        Assert.That(second, Is.Not.SameAs(first));
    }

    [Test]
    public async Task EndingASession_DropsTheCachedRow_HereAndInThePeers_SoTheLogoutCountsAtOnce()
    {
        var user = _table.Add("alice");
        await Scope().Users.GetAsync(user.Id, None);

        await Scope().Users.EndSessionAsync(user.Id, "s1", DateTimeOffset.UnixEpoch.AddDays(14), DateTimeOffset.UnixEpoch, None);
        var after = await Scope().Users.GetAsync(user.Id, None);

        Assert.That(after!.EndedSessions, Does.Contain("s1"));
        Assert.That(_peers.Published, Does.Contain(user.Id));
    }

    [Test]
    public async Task AMissingUser_IsNotCached_SoOneCreatedNextIsFound()
    {
        var id = UserId.New();
        Assert.That(await Scope().Users.GetAsync(id, None), Is.Null);

        _table.Add("bob", id);
        var found = await Scope().Users.GetAsync(id, None);

        Assert.That(found?.Username.Value, Is.EqualTo("bob"));
        Assert.That(_table.Reads, Is.EqualTo(2));
    }

    [Test]
    public async Task ARow_IsReadAgain_OnceItsLifetimeIsOver()
    {
        var user = _table.Add("alice");
        await Scope().Users.GetAsync(user.Id, None);

        _clock.Now += Lifetime - TimeSpan.FromSeconds(1);
        await Scope().Users.GetAsync(user.Id, None);
        Assert.That(_table.Reads, Is.EqualTo(1), "still current");

        _clock.Now += TimeSpan.FromSeconds(1);
        await Scope().Users.GetAsync(user.Id, None);
        Assert.That(_table.Reads, Is.EqualTo(2), "expired");
    }

    [Test]
    public async Task ABanThroughTheAdminCommand_RefusesTheUsersNextRequest()
    {
        var user = _table.Add("mallory");
        Assert.That((await Access(user.Id).RequireActiveUserAsync(None)).IsBanned, Is.False);

        var scope = Scope();
        await new BanUserHandler(scope.Users).Handle(new BanUser(Admin, "mallory"), None);

        Assert.That(() => Access(user.Id).RequireActiveUserAsync(None),
            Throws.InstanceOf<BusinessRuleViolationException>().With.Message.Contains("banned"));
        Assert.That(_peers.Published, Is.EqualTo(new[] { user.Id }), "the other processes are told");
    }

    [Test]
    public async Task AnUnbanThroughTheAdminCommand_LetsTheUserInOnTheNextRequest()
    {
        var user = _table.Add("mallory");
        user.Ban();
        _table.Replace(user);
        Assert.That(() => Access(user.Id).RequireActiveUserAsync(None), Throws.InstanceOf<BusinessRuleViolationException>());

        var scope = Scope();
        await new UnbanUserHandler(scope.Users).Handle(new UnbanUser(Admin, "mallory"), None);

        var active = await Access(user.Id).RequireActiveUserAsync(None);
        Assert.That(active.IsBanned, Is.False);
        Assert.That(_peers.Published, Is.EqualTo(new[] { user.Id }));
    }

    private static IEnumerable<TestCaseData> Changes()
    {
        yield return new TestCaseData((Action<User>)(u => u.PromoteToAdmin()), (Func<User, object>)(u => u.Role), UserRole.Admin)
            .SetName("ARoleChange_IsSeenOnTheNextRead");
        yield return new TestCaseData((Action<User>)(u => u.ChangePasswordHash("new-hash")), (Func<User, object>)(u => u.PasswordHash), "new-hash")
            .SetName("APasswordChange_IsSeenOnTheNextRead");
        yield return new TestCaseData(
                (Action<User>)(u => u.UpdatePreferences(new UserPreferences(ModelName.From("qwen2:7b"), SystemPrompt.FromOptional("Pirate.")))),
                (Func<User, object>)(u => u.Preferences.DefaultModel!.Value), "qwen2:7b")
            .SetName("APreferenceChange_IsSeenOnTheNextRead");
    }

    [TestCaseSource(nameof(Changes))]
    public async Task EveryUpdate_DropsTheCachedRow(Action<User> change, Func<User, object> field, object expected)
    {
        var user = _table.Add("alice");
        var loaded = await Scope().Users.GetAsync(user.Id, None);

        change(loaded!);
        await Scope().Users.UpdateAsync(loaded!, None);
        var next = await Scope().Users.GetAsync(user.Id, None);

        Assert.That(field(next!), Is.EqualTo(expected));
        Assert.That(_peers.Published, Is.EqualTo(new[] { user.Id }));
    }

    [Test]
    public async Task AReadThatRacedAWriteInATransaction_DoesNotKeepTheOldRow()
    {
        var user = _table.Add("mallory");
        var writer = Scope();

        await writer.UnitOfWork.InTransactionAsync(async ct =>
        {
            var loaded = await writer.Users.GetAsync(user.Id, ct);
            loaded!.Ban();
            await writer.Users.UpdateAsync(loaded, ct);

            // Another request, before the commit: it sees the old committed row and caches it.
            var meanwhile = await Scope().Users.GetAsync(user.Id, ct);
            Assert.That(meanwhile!.IsBanned, Is.False);
            return 0;
        }, None);

        var after = await Scope().Users.GetAsync(user.Id, None);
        Assert.That(after!.IsBanned, Is.True, "the commit dropped what the racing read kept");
        Assert.That(_peers.Published, Is.EqualTo(new[] { user.Id, user.Id }), "told at the write and after the commit");
    }

    [Test]
    public async Task AReadThatStartedBeforeAWriteAndEndedAfterIt_IsNotKept()
    {
        var user = _table.Add("mallory");
        var release = new TaskCompletionSource();
        _table.BeforeRead = () => release.Task;

        var slowRead = Scope().Users.GetAsync(user.Id, None);
        var banned = User.Restore(user.Id, user.Username, user.PasswordHash, user.Role, UserStatus.Banned,
            user.Preferences, user.CreatedAt);
        _table.BeforeRead = null;
        await Scope().Users.UpdateAsync(banned, None);
        release.SetResult();

        Assert.That((await slowRead)!.IsBanned, Is.False, "it read before the write landed");
        Assert.That((await Scope().Users.GetAsync(user.Id, None))!.IsBanned, Is.True, "but did not keep that row");
    }

    [Test]
    public async Task InsideATransaction_TheDatabaseIsRead()
    {
        var user = _table.Add("alice");
        await Scope().Users.GetAsync(user.Id, None);
        var scope = Scope();

        await scope.UnitOfWork.InTransactionAsync(ct => scope.Users.GetAsync(user.Id, ct), None);

        Assert.That(_table.Reads, Is.EqualTo(2));
    }

    [Test]
    public async Task AWriteAnnouncedByAnotherProcess_DropsThatRow()
    {
        var alice = _table.Add("alice");
        var bob = _table.Add("bob");
        await Scope().Users.GetAsync(alice.Id, None);
        await Scope().Users.GetAsync(bob.Id, None);

        _peers.Invalidate(alice.Id);
        await Scope().Users.GetAsync(alice.Id, None);
        await Scope().Users.GetAsync(bob.Id, None);

        Assert.That(_table.Reads, Is.EqualTo(3), "alice again, bob still cached");
    }

    [Test]
    public async Task WhenWritesElsewhereMayHaveBeenMissed_EveryRowIsDropped()
    {
        var alice = _table.Add("alice");
        var bob = _table.Add("bob");
        await Scope().Users.GetAsync(alice.Id, None);
        await Scope().Users.GetAsync(bob.Id, None);

        _peers.Invalidate(null);

        Assert.That(_cache.Count, Is.Zero);
    }

    [Test]
    public async Task WhileOtherProcessesCannotBeHeard_NothingIsServedOrKept()
    {
        var user = _table.Add("alice");
        await Scope().Users.GetAsync(user.Id, None);

        _peers.Listening = false;
        await Scope().Users.GetAsync(user.Id, None);
        await Scope().Users.GetAsync(user.Id, None);

        Assert.That(_table.Reads, Is.EqualTo(3), "read through while deaf");

        _peers.Invalidate(null); // as a lost connection does
        await Scope().Users.GetAsync(user.Id, None);
        Assert.That(_cache.Count, Is.Zero, "and nothing kept");
    }

    [Test]
    public async Task PastItsCapacity_TheCacheReadsNewUsersThrough_UntilRowsExpire()
    {
        _cache = NewCache(capacity: 1);
        var alice = _table.Add("alice");
        var bob = _table.Add("bob");
        await Scope().Users.GetAsync(alice.Id, None);

        await Scope().Users.GetAsync(bob.Id, None);
        await Scope().Users.GetAsync(bob.Id, None);
        Assert.That(_table.Reads, Is.EqualTo(3), "bob did not fit");

        _clock.Now += Lifetime;
        await Scope().Users.GetAsync(bob.Id, None);
        await Scope().Users.GetAsync(bob.Id, None);
        Assert.That(_table.Reads, Is.EqualTo(4), "alice's expired row made room");
        Assert.That(_cache.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task AfterCommitActions_RunOnceTheOutermostTransactionEnds_AlsoWhenItFails()
    {
        var unitOfWork = new AfterCommitUnitOfWork(new UserTable());
        var ran = new List<string>();

        await unitOfWork.InTransactionAsync(async ct =>
        {
            await unitOfWork.InTransactionAsync(async _ =>
            {
                await unitOfWork.AfterCommitAsync(() => Add(ran, "inner"));
                return 0;
            }, ct);
            Assert.That(ran, Is.Empty, "not while the outer transaction runs");
            return 0;
        }, None);
        Assert.That(ran, Is.EqualTo(new[] { "inner" }));

        Assert.That(() => unitOfWork.InTransactionAsync<int>(async _ =>
        {
            await unitOfWork.AfterCommitAsync(() => Add(ran, "failed"));
            throw new InvalidOperationException("rolled back");
        }, None), Throws.InvalidOperationException);
        Assert.That(ran, Is.EqualTo(new[] { "inner", "failed" }));

        await unitOfWork.AfterCommitAsync(() => Add(ran, "outside"));
        Assert.That(ran, Is.EqualTo(new[] { "inner", "failed", "outside" }), "outside a transaction: at once");
    }

    private static Task Add(List<string> list, string item)
    {
        list.Add(item);
        return Task.CompletedTask;
    }

    private UserReadCache NewCache(int capacity = 100) =>
        new(new UserCacheOptions { Lifetime = Lifetime, Capacity = capacity }, _peers, _clock);

    /// <summary>One request's scope: its own unit of work over the shared table and cache.</summary>
    private (CachedUserRepository Users, AfterCommitUnitOfWork UnitOfWork) Scope()
    {
        var unitOfWork = new AfterCommitUnitOfWork(_table);
        return (new CachedUserRepository(new Lazy<IUserRepository>(() => _table.For(unitOfWork)), _cache, unitOfWork), unitOfWork);
    }

    private UserAccess Access(UserId id)
    {
        var current = new Mock<ICurrentUser>();
        current.Setup(c => c.Id).Returns(id);
        return new UserAccess(current.Object, Scope().Users, Mock.Of<IChatRepository>());
    }

    private sealed class SteppingClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class TestPeers : IUserCachePeers
    {
        private Action<UserId?> _invalidated = _ => { };

        public bool Listening { get; set; } = true;

        public List<UserId> Published { get; } = [];

        public bool IsListening => Listening;

        public void OnInvalidated(Action<UserId?> invalidated) => _invalidated = invalidated;

        public Task PublishAsync(UserId id)
        {
            Published.Add(id);
            return Task.CompletedTask;
        }

        public void Invalidate(UserId? id) => _invalidated(id);
    }

    /// <summary>
    /// Committed rows, and the writes of the transaction that runs (one at a time): a transaction sees its own
    /// writes, everyone else sees them once it commits.
    /// </summary>
    private sealed class UserTable : IUnitOfWork
    {
        private readonly Dictionary<UserId, User> _committed = [];
        private readonly Dictionary<UserId, User> _pending = [];
        private bool _inTransaction;

        public int Reads { get; private set; }

        public Func<Task>? BeforeRead { get; set; }

        public User Add(string name, UserId? id = null)
        {
            var user = User.Restore(id ?? UserId.New(), Username.From(name), "hash", UserRole.User, UserStatus.Active,
                UserPreferences.None, DateTimeOffset.UnixEpoch);
            _committed[user.Id] = Copy(user);
            return user;
        }

        public void Replace(User user) => _committed[user.Id] = Copy(user);

        public IUserRepository For(AfterCommitUnitOfWork unitOfWork) => new Repository(this, unitOfWork);

        public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
        {
            if (_inTransaction)
            {
                return await work(cancellationToken);
            }

            _inTransaction = true;
            try
            {
                var result = await work(cancellationToken);
                foreach (var (id, user) in _pending)
                {
                    _committed[id] = user;
                }

                return result;
            }
            finally
            {
                _pending.Clear();
                _inTransaction = false;
            }
        }

        private static User Copy(User u, string? endedSession = null) =>
            User.Restore(u.Id, u.Username, u.PasswordHash, u.Role, u.Status, u.Preferences, u.CreatedAt, u.SecurityStamp,
                endedSession is null ? u.EndedSessions : u.EndedSessions.Append(endedSession));

        private sealed class Repository(UserTable table, AfterCommitUnitOfWork unitOfWork) : IUserRepository
        {
            public Task AddAsync(User user, CancellationToken cancellationToken)
            {
                table._committed[user.Id] = Copy(user);
                return Task.CompletedTask;
            }

            public async Task<User?> GetAsync(UserId id, CancellationToken cancellationToken)
            {
                table.Reads++;
                var user = unitOfWork.InTransaction && table._pending.TryGetValue(id, out var pending) ? pending
                    : table._committed.GetValueOrDefault(id);
                var copy = user is null ? null : Copy(user);
                if (table.BeforeRead is { } before)
                {
                    await before();
                }

                return copy;
            }

            public Task<int> CountAdminsAsync(CancellationToken cancellationToken) =>
                Task.FromResult(table._committed.Values.Count(u => u.IsAdmin));


            public Task<bool> DeleteAwaitingApprovalAsync(UserId id, CancellationToken cancellationToken) =>
                Task.FromResult(table._committed.TryGetValue(id, out var user) && user.IsAwaitingApproval
                                && table._committed.Remove(id));

            public Task EraseAsync(UserId id, DateTimeOffset now, CancellationToken cancellationToken)
            {
                table._committed.Remove(id);
                return Task.CompletedTask;
            }

            public Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken) =>
                Task.FromResult(table._committed.Values.Where(u => u.Username.Value == username).Select(u => Copy(u)).FirstOrDefault());

            public Task UpdateAsync(User user, CancellationToken cancellationToken)
            {
                (unitOfWork.InTransaction ? table._pending : table._committed)[user.Id] = Copy(user);
                return Task.CompletedTask;
            }

            public Task EndSessionAsync(UserId id, string sessionId, DateTimeOffset until, DateTimeOffset now,
                CancellationToken cancellationToken)
            {
                var rows = unitOfWork.InTransaction ? table._pending : table._committed;
                rows[id] = Copy(rows.GetValueOrDefault(id) ?? table._committed[id], sessionId);
                return Task.CompletedTask;
            }
        }
    }
}

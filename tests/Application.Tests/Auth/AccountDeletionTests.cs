using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Tests.Builders;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Auth;

public class AccountDeletionTests
{
    private TestPorts _ports = null!;
    private Mock<IRelayControl> _relay = null!;
    private Mock<IChatClosedSignal> _closed = null!;
    private Mock<IObjectStore> _store = null!;
    private Mock<IErasedAccounts> _erased = null!;
    private readonly List<string> _order = [];

    private AccountDeletion Deletion => new(_ports.Users.Object, _ports.Reads.Object, _relay.Object, _closed.Object,
        Objects, _ports.UnitOfWork.Object, _ports.Clock);

    private ErasedAccountObjects Objects => new(_store.Object, _erased.Object, NullLogger<ErasedAccountObjects>.Instance);

    [SetUp]
    public void SetUp()
    {
        _order.Clear();
        _ports = new TestPorts();
        _relay = new Mock<IRelayControl>();
        _closed = new Mock<IChatClosedSignal>();
        _store = new Mock<IObjectStore>();
        _erased = new Mock<IErasedAccounts>();
        _erased.Setup(e => e.ListChatsAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).ReturnsAsync([]);
        _relay.Setup(r => r.CancelUnfinishedAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()))
            .Callback((ChatId id, CancellationToken _) => _order.Add($"cancel {id}"))
            .ReturnsAsync((RelayRequestId?)null);
        _ports.Users.Setup(u => u.EraseAsync(It.IsAny<UserId>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Callback(() => _order.Add(_ports.InTransaction ? "erase (tx)" : "erase"))
            .Returns(Task.CompletedTask);
        _store.Setup(s => s.DeleteAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Callback((string key, CancellationToken _) => _order.Add($"delete {key}"))
            .ReturnsAsync(true);
        _erased.Setup(e => e.ObjectsDeletedAsync(It.IsAny<UserId>(), It.IsAny<CancellationToken>()))
            .Callback(() => _order.Add("objects done"))
            .Returns(Task.CompletedTask);
    }

    [Test]
    public async Task Delete_CancelsAnswersInOpenChats_ErasesInOneTransaction_ThenLetsChannelsAndObjectsGo()
    {
        var user = new UserBuilder().Build();
        var open = Chat(closed: false);
        var closed = Chat(closed: true);
        _ports.Users.Setup(u => u.GetAsync(user.Id, It.IsAny<CancellationToken>())).ReturnsAsync(user);
        _ports.Reads.Setup(r => r.ListSessionsAsync(user.Id, It.IsAny<CancellationToken>())).ReturnsAsync([open, closed]);
        var key = $"transcripts/{user.Id.Value:D}/{open.Id:D}/20260101T000000.000Z.json";
        _store.Setup(s => s.ListAsync($"transcripts/{user.Id.Value:D}/", It.IsAny<CancellationToken>())).Returns(Keys(key));
        var image = $"images/{user.Id.Value:D}/{open.Id:D}/{Guid.NewGuid():N}.png";
        _store.Setup(s => s.ListAsync($"images/{user.Id.Value:D}/", It.IsAny<CancellationToken>())).Returns(Keys(image));

        await Deletion.DeleteAsync(user, CancellationToken.None);

        Assert.That(_order, Is.EqualTo(new[] { $"cancel {open.Id}", "erase (tx)", $"delete {key}", $"delete {image}", "objects done" }),
            "answers stop first, the rows go in the transaction, the objects (transcripts, messages' images) after the commit");
        _closed.Verify(c => c.NotifyClosed(open.Id));
        _closed.Verify(c => c.NotifyClosed(closed.Id));
    }

    [Test]
    public async Task Delete_WhenTheObjectStoreFails_KeepsTheAccountListed_AndTheSweepFinishesIt()
    {
        var user = new UserBuilder().Build();
        _ports.Users.Setup(u => u.GetAsync(user.Id, It.IsAny<CancellationToken>())).ReturnsAsync(user);
        _ports.Reads.Setup(r => r.ListSessionsAsync(user.Id, It.IsAny<CancellationToken>())).ReturnsAsync([]);
        _store.Setup(s => s.ListAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).Returns(Failing());

        await Deletion.DeleteAsync(user, CancellationToken.None);

        Assert.That(_order, Does.Contain("erase (tx)").And.Not.Contain("objects done"), "the account is gone, its objects are left for the sweep");
        _erased.Setup(e => e.ListAsync(It.IsAny<int>(), It.IsAny<CancellationToken>())).ReturnsAsync([user.Id]);
        _store.Setup(s => s.ListAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).Returns(Keys());
        Assert.That(await Objects.SweepAsync(CancellationToken.None), Is.EqualTo(1));
        Assert.That(_order, Does.Contain("objects done"));
    }

    [Test]
    public void Delete_TheLastAdmin_IsRefused_AndNothingIsErased()
    {
        var admin = new UserBuilder().Named("root").Admin().Build();
        _ports.Users.Setup(u => u.GetAsync(admin.Id, It.IsAny<CancellationToken>())).ReturnsAsync(admin);
        _ports.Users.Setup(u => u.CountAdminsAsync(It.IsAny<CancellationToken>())).ReturnsAsync(1);
        _ports.Reads.Setup(r => r.ListSessionsAsync(admin.Id, It.IsAny<CancellationToken>())).ReturnsAsync([]);

        Assert.That(() => Deletion.DeleteAsync(admin, CancellationToken.None), Throws.InstanceOf<DomainException>());
        Assert.That(_order, Does.Not.Contain("erase (tx)"));
    }

    private static SessionDto Chat(bool closed) => new(Guid.NewGuid(), "chat", closed ? "closed" : "active", null, null,
        null, null, null, Moments.T0, Moments.T0, closed ? Moments.T0 : null);

    private static async IAsyncEnumerable<string> Keys(params string[] keys)
    {
        foreach (var key in keys)
        {
            await Task.Yield();
            yield return key;
        }
    }

    private static async IAsyncEnumerable<string> Failing([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        throw new IOException("the object store is away");
#pragma warning disable CS0162 // an iterator needs a yield
        yield break;
#pragma warning restore CS0162
    }
}

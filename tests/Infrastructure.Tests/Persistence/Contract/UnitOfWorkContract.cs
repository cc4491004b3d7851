using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

public abstract class UnitOfWorkContract : DatabaseContract
{

    [Test]
    public async Task InTransaction_WhenWorkThrows_WritesNothing()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var message = chat.PostUserMessage(owner, PromptText.From("Will this be kept?"), At(1));
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1));

        Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<IUnitOfWork>()
            .InTransactionAsync<bool>(async ct =>
            {
                await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
                await services.GetRequiredService<IRelayRequestRepository>().AddAsync(request, ct);
                throw new InvalidOperationException("the handler failed after writing");
            }, None));

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.Zero);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.Zero);
        Assert.That(await services.GetRequiredService<IMessageRepository>().GetAsync(message.Id, None), Is.Null,
            "the scope's own connection no longer sees the rolled-back rows");
    }

    [Test]
    public async Task InTransaction_WhenWorkSucceeds_CommitsEverythingForOtherScopes()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var message = chat.PostUserMessage(owner, PromptText.From("Keep me"), At(1));
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1));

        var result = await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
            await services.GetRequiredService<IRelayRequestRepository>().AddAsync(request, ct);
            await services.GetRequiredService<IChatRepository>().UpdateAsync(chat, ct);
            return 42;
        }, None);

        Assert.That(result, Is.EqualTo(42));
        await using var other = Db.Scope();
        Assert.That(await other.ServiceProvider.GetRequiredService<IMessageRepository>().GetAsync(message.Id, None),
            Is.Not.Null);
        Assert.That(await other.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None),
            Is.Not.Null);
        Assert.That((await other.ServiceProvider.GetRequiredService<IChatRepository>().GetAsync(chat.Id, None))!
            .UpdatedAt, Is.EqualTo(At(1)));
    }

    [Test]
    public async Task InTransaction_AWriteIsSeenByTheNextReadOfTheSameTransaction()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var message = chat.PostUserMessage(owner, PromptText.From("Read me back"), At(1));
        var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(1));

        var unfinished = await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
            await services.GetRequiredService<IRelayRequestRepository>().AddAsync(request, ct);
            return await services.GetRequiredService<IRelayRequestRepository>().GetUnfinishedForSessionAsync(chat.Id, ct);
        }, None);

        Assert.That(unfinished?.Id, Is.EqualTo(request.Id));
    }

    [Test]
    public async Task InTransaction_WhenAWriteFails_NothingOfTheTransactionIsKept()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var message = chat.PostUserMessage(owner, PromptText.From("Kept?"), At(1));
        var orphan = RelayRequest.Create(chat.Id, owner.Id, new MessageId(Guid.NewGuid()), SamplingParameters.Default, At(1));

        Assert.CatchAsync(() => services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            await services.GetRequiredService<IMessageRepository>().AddAsync(message, ct);
            await services.GetRequiredService<IRelayRequestRepository>().AddAsync(orphan, ct); // no such user message
            return true;
        }, None));

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.Zero);
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.Zero);
    }

    [Test]
    public async Task InTransaction_WhenNested_JoinsTheOuterTransaction()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var unitOfWork = services.GetRequiredService<IUnitOfWork>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);

        Assert.ThrowsAsync<InvalidOperationException>(() => unitOfWork.InTransactionAsync<bool>(async ct =>
        {
            await unitOfWork.InTransactionAsync(async _ =>
            {
                await AddMessageAsync(services, chat, Domain.Messages.MessageSource.User, "inner");
                return true;
            }, ct);
            throw new InvalidOperationException("the outer work fails after the inner one finished");
        }, None));

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.Zero,
            "the inner call did not commit on its own");
    }

    [Test]
    public async Task InTransaction_AfterARollback_CanRunAgain()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var unitOfWork = services.GetRequiredService<IUnitOfWork>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        Assert.ThrowsAsync<InvalidOperationException>(() =>
            unitOfWork.InTransactionAsync<bool>(_ => throw new InvalidOperationException("first try fails"), None));

        await unitOfWork.InTransactionAsync(async _ =>
        {
            await AddMessageAsync(services, chat, Domain.Messages.MessageSource.User, "second try");
            return true;
        }, None);

        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(1));
    }
    [Test]
    public async Task InTransaction_WhenWorkThrowsAfterACheckedWrite_RollsItBack_AndTheScopeGoesOn()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var request = await AddRequestAsync(services, chat, owner, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));

        Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<IUnitOfWork>()
            .InTransactionAsync<bool>(async ct =>
            {
                Assert.That(await requests.TryUpdateAsync(request, RelayRequestStatus.Pending, ct), Is.True);
                throw new InvalidOperationException("the handler failed after a write it checked");
            }, None));

        await using var other = Db.Scope();
        Assert.That((await other.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None))!
            .Status, Is.EqualTo(RelayRequestStatus.Pending), "the checked write was rolled back");
        await AddMessageAsync(services, chat, Domain.Messages.MessageSource.User, "after the rollback");
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(2),
            "the scope's connection is not left inside the failed transaction: a write after it is kept");
    }

    [Test]
    public async Task InTransaction_ACheckedWriteThenWritesThatWait_AreCommittedTogether()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var request = await AddRequestAsync(services, chat, owner, At(1));
        var answer = Domain.Messages.Message.Answer(
            chat.Id, request.Id, "the answer", Domain.Messages.MessageSource.Model, null, At(3));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));

        var stored = await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            if (!await requests.TryUpdateAsync(request, RelayRequestStatus.Pending, ct))
            {
                return false;
            }

            await services.GetRequiredService<IMessageRepository>().AddAsync(answer, ct);
            return true;
        }, None);

        Assert.That(stored, Is.True);
        await using var other = Db.Scope();
        Assert.That((await other.ServiceProvider.GetRequiredService<IRelayRequestRepository>().GetAsync(request.Id, None))!
            .Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(await other.ServiceProvider.GetRequiredService<IMessageRepository>().GetAsync(answer.Id, None),
            Is.Not.Null);
    }

    [Test]
    public async Task InTransaction_WhenAWaitingWriteFailsAtTheEnd_TheCheckedWriteBeforeItIsNotKept()
    {
        await using var scope = Db.Scope();
        var services = scope.ServiceProvider;
        var requests = services.GetRequiredService<IRelayRequestRepository>();
        var owner = await AddUserAsync(services);
        var chat = await AddSessionAsync(services, owner);
        var request = await AddRequestAsync(services, chat, owner, At(1));
        var orphan = RelayRequest.Create(chat.Id, owner.Id, new MessageId(Guid.NewGuid()), SamplingParameters.Default, At(1));
        request.Dispatch(At(2), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));

        Assert.CatchAsync(() => services.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
        {
            Assert.That(await requests.TryUpdateAsync(request, RelayRequestStatus.Pending, ct), Is.True);
            await requests.AddAsync(orphan, ct); // no such user message: fails when sent, with the commit
            return true;
        }, None));

        Assert.That((await requests.GetAsync(request.Id, None))!.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(await Db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.EqualTo(1));
        var again = await services.GetRequiredService<IUnitOfWork>().InTransactionAsync(
            ct => requests.TryUpdateAsync(request, RelayRequestStatus.Pending, ct), None);
        Assert.That(again, Is.True, "the same scope runs a transaction again after the failed one");
    }
}

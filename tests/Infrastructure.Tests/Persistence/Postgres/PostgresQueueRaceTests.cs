using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// Sends that read the same chat and write at the very same moment: PostgreSQL runs their conditional writes at once
/// (no single writer as in SQLite), so this is where the chat's version has to decide.
/// </summary>
[TestFixture]
public sealed class PostgresQueueRaceTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Test]
    public async Task Queue_EightSendsReleasedTogetherFromALockOnTheChat_QueueExactlyOne()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        Chat chat;
        ChatAnswerState read;
        Domain.Users.User owner;
        await using (var scope = db.Scope())
        {
            owner = await AddUserAsync(scope.ServiceProvider);
            chat = await AddSessionAsync(scope.ServiceProvider, owner);
            read = (await scope.ServiceProvider.GetRequiredService<IChatRepository>()
                .GetWithAnswerStateAsync(chat.Id, None))!;
        }

        // Holding the chat's row (FOR UPDATE changes no version) makes every send wait on it with its snapshot taken,
        // so all of them decide after the same release, not one after another.
        await using var holder = new NpgsqlConnection(db.ConnectionString);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM chat_sessions WHERE id = @Id FOR UPDATE", holder, hold))
        {
            lockRow.Parameters.AddWithValue("Id", chat.Id.Value);
            await lockRow.ExecuteScalarAsync();
        }

        // Each from a host of its own, as from eight processes: one process queues its sends through its own writers,
        // which never put one chat in one statement twice.
        var sends = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            await using var host = db.StartHost();
            await using var scope = host.CreateAsyncScope();
            var copy = Chat.Restore(chat.Id, chat.OwnerId, chat.Title, chat.Status, chat.Model,
                chat.SystemPrompt, chat.Sampling, chat.CreatedAt, chat.UpdatedAt, chat.ClosedAt);
            var message = copy.PostUserMessage(owner, PromptText.From($"send {i}"), At(10 + i));
            var request = RelayRequest.Create(chat.Id, owner.Id, message.Id, SamplingParameters.Default, At(10 + i));
            return await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
                .TryQueueAsync(copy, read.Version, message, request, None);
        })).ToList();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await db.ScalarAsync<long>(
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") < 8)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the eight sends never all waited on the chat's row");
            await Task.Delay(20);
        }

        await hold.CommitAsync();
        var versions = await Task.WhenAll(sends);

        Assert.That(versions.Count(v => v is not null), Is.EqualTo(1));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests"), Is.EqualTo(1));
        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM messages"), Is.EqualTo(1));
    }
}

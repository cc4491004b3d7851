using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure.Redis;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// Two server bots (each its own multiplexer) keep the pieces of an answer in flight in the real Redis: the one that
/// hands the request back reads the pieces the other took, and the whole text of the attempt follows from them.
/// </summary>
public sealed class RedisAnswerPiecesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Test]
    public async Task PiecesKeptByTwoBots_AreReadByEither_AndMakeTheAttemptsWholeText()
    {
        await using var redis = new RedisTestServer();
        var one = new RedisAnswerPieces(await redis.ConnectedAsync(), redis.Outages());
        var other = new RedisAnswerPieces(await redis.ConnectedAsync(), redis.Outages());
        var request = Guid.NewGuid();
        var second = 1_000_000;

        one.Keep(request, [(1, "The sky"), (3, " blue")]);
        other.Keep(request, [(2, " is"), (4, " because")]);
        other.Keep(request, [(second + 1, "Another attempt")]);
        one.Keep(Guid.NewGuid(), [(1, "another request")]);

        var read = await EventuallyAsync(() => one.ReadAsync(request, CancellationToken.None), 5);
        Assert.That(read, Is.EquivalentTo(new[] { (1, "The sky"), (2, " is"), (3, " blue"), (4, " because"), (second + 1, "Another attempt") }));
        Assert.That(RelayStreamState.WholeTextOf(read, attempt: 1), Is.EqualTo("The sky is blue because"));
        Assert.That(RelayStreamState.WholeTextOf(read, attempt: 2), Is.EqualTo("Another attempt"));
        Assert.That(RelayStreamState.WholeTextOf(read.Where(p => p.Seq != 2), attempt: 1), Is.Null, "a hole: no whole text");
    }

    [Test]
    public async Task KeptPieces_Expire_AndAnUnknownRequestHasNone()
    {
        await using var redis = new RedisTestServer();
        var connection = await redis.ConnectedAsync();
        var pieces = new RedisAnswerPieces(connection, redis.Outages());
        var request = Guid.NewGuid();

        pieces.Keep(request, [(1, "words")]);
        await EventuallyAsync(() => pieces.ReadAsync(request, CancellationToken.None), 1);

        var database = await connection.GetDatabaseAsync();
        var ttl = await database.KeyTimeToLiveAsync($"{connection.KeyPrefix}pieces:{request:N}");
        Assert.That(ttl, Is.Not.Null.And.LessThanOrEqualTo(RedisAnswerPieces.Lifetime).And.GreaterThan(TimeSpan.FromMinutes(1)),
            "kept no longer than any answer may run");
        Assert.That(await pieces.ReadAsync(Guid.NewGuid(), CancellationToken.None), Is.Empty);
    }

    /// <summary>The pieces read once <paramref name="count"/> are there: they are written without waiting for Redis.</summary>
    private static async Task<IReadOnlyList<(int Seq, string Text)>> EventuallyAsync(
        Func<Task<IReadOnlyList<(int Seq, string Text)>>> read, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var pieces = await read();
            if (pieces.Count >= count || DateTime.UtcNow > deadline)
            {
                return pieces;
            }

            await Task.Delay(20);
        }
    }
}

using MeatLizard.Application.Abstractions;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The pieces of each answer in flight, in one Redis hash per request (the piece's sequence number → its text), for
/// every relay server process: the server bot that hands a request back reads the pieces the other took. Written
/// without waiting for Redis's reply; a hash lives <see cref="Lifetime"/> after its last piece (longer than any answer
/// is let run), so an ended request's pieces need no clean-up of their own. With Redis out, nothing is kept and nothing
/// read: the next attempt then writes the answer from the beginning, as without a second server bot's pieces.
/// </summary>
public sealed class RedisAnswerPieces(RedisConnection connection, RedisOutages outages) : IAnswerPieces
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(15);

    public void Keep(Guid requestId, IReadOnlyList<(int Seq, string Text)> pieces)
    {
        if (pieces.Count > 0)
        {
            _ = KeepAsync(requestId, pieces);
        }
    }

    public async Task<IReadOnlyList<(int Seq, string Text)>> ReadAsync(Guid requestId, CancellationToken cancellationToken)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            var entries = await connection.WithinTimeout(database.HashGetAllAsync(KeyOf(requestId)));
            return [.. entries.Select(e => ((int)e.Name, (string)e.Value!))];
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer pieces read", "a request handed back starts its answer again", ex);
            return [];
        }
    }

    private async Task KeepAsync(Guid requestId, IReadOnlyList<(int Seq, string Text)> pieces)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            var key = KeyOf(requestId);
            // Connected: sent without waiting for the replies (nothing uses them; ordered on the one connection).
            var flags = database.Multiplexer.IsConnected ? CommandFlags.FireAndForget : CommandFlags.None;
            var entries = pieces.Select(p => new HashEntry(p.Seq, p.Text)).ToArray();
            await connection.WithinTimeout(database.HashSetAsync(key, entries, flags));
            await connection.WithinTimeout(database.KeyExpireAsync(key, Lifetime, flags));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer pieces write", "a request handed back may start its answer again", ex);
        }
    }

    private RedisKey KeyOf(Guid requestId) => $"{connection.KeyPrefix}pieces:{requestId:N}";
}

using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Group commit for one kind of write: a write waits while the writers' statements run, and the next statement takes
/// everything that waited meanwhile, up to <see cref="MaxBatch"/>. An idle process pays no delay (a lone write goes at
/// once, alone); a busy one pays one statement, one commit and one round trip per batch instead of per write, so the
/// busier it is the less each write costs. Each caller learns its own row's result.
/// <para>
/// There are no writer threads to wake: a caller that finds a writer's place free (<see cref="Writers"/> of them)
/// takes it and runs the statements itself — its own write's batch, and any before it — on its own thread, so the
/// write that starts a batch waits for no thread hand-over on the way in or out. Once its own write is stored it
/// gives the place back; if writes are still waiting and no other writer runs for them, a background writer takes the
/// place and stores them. A caller that finds both places taken waits for a writer's next statement.
/// </para>
/// Two writes with the same <typeparamref name="TKey"/> never share a statement (the second waits for the next one,
/// where the first one's outcome decides it); a statement that fails on one row's data fails the whole batch, so its
/// writes are then tried one by one and the error reaches that row's caller only.
/// </summary>
internal abstract class PostgresGroupWriter<TWrite, TKey, TResult> : IAsyncDisposable
    where TKey : notnull
{
    /// <summary>The most writes one statement takes.</summary>
    internal const int MaxBatch = 64;

    // Two statements may run at once: a row lock held by another transaction then stalls half the writes, not all.
    private const int Writers = 2;

    private readonly Lock _gate = new(); // guards _waiting, _keys, _running, _disposed and _idle
    private readonly List<Pending> _waiting = [];
    private readonly HashSet<TKey> _keys = [];
    private readonly CancellationTokenSource _stopping = new();
    private int _running;
    private bool _disposed;
    private TaskCompletionSource? _idle;

    protected PostgresGroupWriter(NpgsqlDataSource dataSource)
    {
        DataSource = dataSource;
    }

    private NpgsqlDataSource DataSource { get; }

    /// <summary>What two writes must not share a statement over (the row both would write).</summary>
    protected abstract TKey KeyOf(TWrite write);

    /// <summary>The statement that stores a batch, from the arrays <see cref="Bind"/> gives it.</summary>
    protected abstract string Sql { get; }

    protected abstract void Bind(NpgsqlParameterCollection parameters, IReadOnlyList<TWrite> batch);

    /// <summary>Each write's result, in order, from the rows the statement returned.</summary>
    protected abstract Task<TResult[]> ReadAsync(
        NpgsqlDataReader reader, IReadOnlyList<TWrite> batch, CancellationToken cancellationToken);

    /// <summary>
    /// Inside a unit of work the write runs alone, at once, on the unit's connection and in its transaction (the same
    /// statement, as a batch of one); otherwise it goes with the process's next statement. A cancelled caller stops
    /// waiting, but a write already queued may still be stored; a caller running a statement for others finishes it
    /// first.
    /// </summary>
    protected async Task<TResult> WriteAsync(PostgresSession session, TWrite write, CancellationToken cancellationToken)
    {
        if (session.InUnitOfWork)
        {
            await using var command = await session.CreateCommandAsync(Sql, cancellationToken);
            return (await RunAsync(command, [write], cancellationToken))[0];
        }

        var pending = new Pending(write);
        bool leads;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _waiting.Add(pending);
            leads = _running < Writers;
            if (leads)
            {
                _running++;
            }
        }

        if (leads)
        {
            await WriteUntilStoredAsync(pending);
        }

        return await pending.Outcome.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        List<Pending> abandoned;
        Task idle;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            abandoned = [.. _waiting];
            _waiting.Clear();
            idle = _running == 0 ? Task.CompletedTask : (_idle = new TaskCompletionSource(
                TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        foreach (var pending in abandoned)
        {
            pending.Outcome.TrySetException(new ObjectDisposedException(GetType().Name));
        }

        // Statements in flight end at once (their writes fail), and their writers give their places back.
        await _stopping.CancelAsync();
        await idle;
        _stopping.Dispose();
    }

    /// <summary>As a writer: stores batches until <paramref name="own"/> is stored (by this writer or another).</summary>
    private async Task WriteUntilStoredAsync(Pending own)
    {
        try
        {
            while (!own.Outcome.Task.IsCompleted && TakeBatch() is { Count: > 0 } batch)
            {
                await StoreAndTellAsync(batch);
            }
        }
        finally
        {
            GiveBackPlace();
        }
    }

    /// <summary>As a background writer: stores batches until none waits.</summary>
    private async Task WriteWhileWaitingAsync()
    {
        try
        {
            while (TakeBatch() is { Count: > 0 } batch)
            {
                await StoreAndTellAsync(batch);
            }
        }
        finally
        {
            GiveBackPlace();
        }
    }

    /// <summary>
    /// The oldest waiting writes, up to <see cref="MaxBatch"/>, no two with the same key: a write whose key is taken
    /// stays, in its place, for a later statement (and so does every later write with that key).
    /// </summary>
    private List<Pending> TakeBatch()
    {
        lock (_gate)
        {
            var batch = new List<Pending>(Math.Min(_waiting.Count, MaxBatch));
            if (_disposed)
            {
                return batch;
            }

            var kept = 0;
            for (var i = 0; i < _waiting.Count; i++)
            {
                var pending = _waiting[i];
                if (batch.Count < MaxBatch && _keys.Add(KeyOf(pending.Write)))
                {
                    batch.Add(pending);
                }
                else
                {
                    _waiting[kept++] = pending;
                }
            }

            _waiting.RemoveRange(kept, _waiting.Count - kept);
            _keys.Clear();
            return batch;
        }
    }

    /// <summary>
    /// A writer leaves. Writes still waiting get a background writer if a place is free, so no write is left without
    /// one: every writer leaves through here, and the check is made under the same lock as a caller's.
    /// </summary>
    private void GiveBackPlace()
    {
        var another = false;
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            _running--;
            if (_waiting.Count > 0 && !_disposed && _running < Writers)
            {
                _running++;
                another = true;
            }
            else if (_running == 0)
            {
                idle = _idle;
            }
        }

        if (another)
        {
            _ = Task.Run(WriteWhileWaitingAsync);
        }

        idle?.TrySetResult();
    }

    private async Task StoreAndTellAsync(IReadOnlyList<Pending> batch)
    {
        try
        {
            var results = await StoreAsync(batch.Select(p => p.Write).ToList());
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Outcome.TrySetResult(results[i]);
            }
        }
        catch (PostgresException ex) when (batch.Count > 1 && IsAboutTheData(ex))
        {
            foreach (var pending in batch)
            {
                await StoreAndTellAsync([pending]);
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Outcome.TrySetException(ex);
            }
        }
    }

    private async Task<TResult[]> StoreAsync(IReadOnlyList<TWrite> batch)
    {
        await using var connection = await DataSource.OpenConnectionAsync(_stopping.Token);
        await using var command = new NpgsqlCommand(Sql, connection);
        return await RunAsync(command, batch, _stopping.Token);
    }

    private async Task<TResult[]> RunAsync(NpgsqlCommand command, IReadOnlyList<TWrite> batch, CancellationToken cancellationToken)
    {
        Bind(command.Parameters, batch);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadAsync(reader, batch, cancellationToken);
    }

    // Class 22 (data exception) and 23 (integrity constraint violation) are about a row; anything else (the
    // connection, the server) would fail each row alone just the same.
    private static bool IsAboutTheData(PostgresException ex) =>
        ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("23", StringComparison.Ordinal);

    private sealed class Pending(TWrite write)
    {
        public TWrite Write { get; } = write;

        public TaskCompletionSource<TResult> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

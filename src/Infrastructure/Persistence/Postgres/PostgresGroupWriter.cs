using System.Threading.Channels;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Group commit for one kind of write: a write waits while the writers' statements run, and the next statement takes
/// everything that waited meanwhile, up to <see cref="MaxBatch"/>. An idle process pays no delay (a lone write goes at
/// once, alone); a busy one pays one statement, one commit and one round trip per batch instead of per write, so the
/// busier it is the less each write costs. Each caller learns its own row's result.
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

    private readonly Channel<Pending> _waiting = Channel.CreateUnbounded<Pending>();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lazy<Task> _writers;
    private int _disposed;

    protected PostgresGroupWriter(NpgsqlDataSource dataSource)
    {
        DataSource = dataSource;
        _writers = new Lazy<Task>(() => Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(RunWriterAsync))));
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
    /// statement, as a batch of one); otherwise it waits for the process's next statement. A cancelled caller stops
    /// waiting, but a write already queued may still be stored.
    /// </summary>
    protected async Task<TResult> WriteAsync(PostgresSession session, TWrite write, CancellationToken cancellationToken)
    {
        if (session.InUnitOfWork)
        {
            await using var command = await session.CreateCommandAsync(Sql, cancellationToken);
            return (await RunAsync(command, [write], cancellationToken))[0];
        }

        return await EnqueueAsync(write, cancellationToken);
    }

    private Task<TResult> EnqueueAsync(TWrite write, CancellationToken cancellationToken)
    {
        _ = _writers.Value;
        var pending = new Pending(write);
        if (!_waiting.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(GetType().Name);
        }

        return pending.Outcome.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Fails the writes still waiting and ends the statements in flight. A second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _waiting.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_writers.IsValueCreated)
        {
            await _writers.Value.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        while (_waiting.Reader.TryRead(out var pending))
        {
            pending.Outcome.TrySetException(new ObjectDisposedException(GetType().Name));
        }

        _stopping.Dispose();
    }

    private async Task RunWriterAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        var keys = new HashSet<TKey>();
        Pending? carried = null;
        try
        {
            while (carried is not null || await _waiting.Reader.WaitToReadAsync(_stopping.Token))
            {
                if (carried is not null)
                {
                    batch.Add(carried);
                    keys.Add(KeyOf(carried.Write));
                    carried = null;
                }

                while (batch.Count < MaxBatch && _waiting.Reader.TryRead(out var pending))
                {
                    if (!keys.Add(KeyOf(pending.Write)))
                    {
                        carried = pending;
                        break;
                    }

                    batch.Add(pending);
                }

                await StoreAndTellAsync(batch);
                batch.Clear();
                keys.Clear();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            carried?.Outcome.TrySetException(new ObjectDisposedException(GetType().Name));
        }
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

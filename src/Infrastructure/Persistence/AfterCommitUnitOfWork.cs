using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The scope's unit of work, which also knows whether a transaction is running and runs what was asked of it
/// "after the commit" once the outermost transaction has ended. The actions run whether it committed or not: they are
/// meant for things that are always safe and only matter after a commit (dropping a cached copy), and a commit whose
/// outcome is unknown (connection lost) must be treated as done.
/// Transactions begun on a provider's session directly, not through <see cref="IUnitOfWork"/>, are not seen here.
/// </summary>
internal sealed class AfterCommitUnitOfWork(IUnitOfWork inner) : IUnitOfWork
{
    private readonly List<Func<Task>> _afterCommit = [];
    private int _depth;

    public bool InTransaction => _depth > 0;

    public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        _depth++;
        try
        {
            return await inner.InTransactionAsync(work, cancellationToken);
        }
        finally
        {
            if (--_depth == 0)
            {
                await RunAfterCommitAsync();
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> when the running transaction ends, or now when none runs.</summary>
    public Task AfterCommitAsync(Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_depth == 0)
        {
            return action();
        }

        _afterCommit.Add(action);
        return Task.CompletedTask;
    }

    private async Task RunAfterCommitAsync()
    {
        while (_afterCommit.Count > 0)
        {
            var actions = _afterCommit.ToArray();
            _afterCommit.Clear();
            foreach (var action in actions)
            {
                await action();
            }
        }
    }
}

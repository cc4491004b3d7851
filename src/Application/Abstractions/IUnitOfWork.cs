
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Runs work in one database transaction. Repositories used inside <paramref name="work"/> share it, so either
/// everything is stored or nothing is.
/// </summary>
public interface IUnitOfWork
{
    Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken);
}


namespace MeatLizard.Application.Abstractions;

public interface IChatEventSubscription : IAsyncDisposable
{
    IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken);
}

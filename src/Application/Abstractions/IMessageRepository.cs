using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Abstractions;

public interface IMessageRepository
{
    Task AddAsync(Message message, CancellationToken cancellationToken);

    Task<Message?> GetAsync(MessageId id, CancellationToken cancellationToken);
}

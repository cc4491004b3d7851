using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Application.Admin.Commands;

internal static class AdminSessions
{
    public static async Task<ChatSession> FindAsync(
        IChatSessionRepository sessions, Guid id, CancellationToken cancellationToken) =>
        await sessions.GetAsync(new SessionId(id), cancellationToken)
        ?? throw NotFoundException.Chat(id);
}

using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Sessions.Commands;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>What closing did; <see cref="WasOpen"/> is false when the chat was already closed.</summary>
public sealed record AdminSessionClosedDto(Guid SessionId, string Title, bool WasOpen, bool GenerationCancelled);

/// <summary>Closes anyone's chat (a generation still running is cancelled first).</summary>
public sealed record CloseSessionAsAdmin(AdminActor Actor, Guid SessionId) : AdminCommand<AdminSessionClosedDto>(Actor)
{
    public override string AuditName => "session close";

    public override string? AuditArguments => $"id={SessionId:D}";
}

/// <remarks>The same close as the owner's (<see cref="ChatClosing"/>): the transcript is stored as the owner's close stores it.</remarks>
public sealed class CloseSessionAsAdminHandler(IChatSessionRepository sessions, ChatClosing closing)
    : IRequestHandler<CloseSessionAsAdmin, AdminSessionClosedDto>
{
    public async Task<AdminSessionClosedDto> Handle(CloseSessionAsAdmin request, CancellationToken cancellationToken)
    {
        var chat = await AdminSessions.FindAsync(sessions, request.SessionId, cancellationToken);
        var closed = await closing.CloseAsync(chat, (c, now) => c.CloseAsOperator(now), cancellationToken);
        return new AdminSessionClosedDto(chat.Id.Value, chat.Title.Value, closed.WasOpen, closed.GenerationCancelled);
    }
}

using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>What closing did; <see cref="WasOpen"/> is false when the chat was already closed.</summary>
public sealed record AdminSessionClosedDto(Guid SessionId, string Title, bool WasOpen, bool GenerationCancelled);

/// <summary>Closes anyone's chat (a generation still running is cancelled first).</summary>
public sealed record CloseSessionAsAdmin(AdminActor Actor, Guid SessionId) : AdminCommand<AdminSessionClosedDto>(Actor)
{
    public override string AuditName => "session close";

    public override string? AuditArguments => $"id={SessionId:D}";
}

public sealed class CloseSessionAsAdminHandler(
    IChatSessionRepository sessions, RelayCancellation cancellation, ISessionClosedSignal closed, IClock clock)
    : IRequestHandler<CloseSessionAsAdmin, AdminSessionClosedDto>
{
    public async Task<AdminSessionClosedDto> Handle(CloseSessionAsAdmin request, CancellationToken cancellationToken)
    {
        var session = await AdminSessions.FindAsync(sessions, request.SessionId, cancellationToken);
        var wasOpen = !session.IsClosed;
        var cancelled = await cancellation.CancelUnfinishedAsync(session.Id, cancellationToken);
        session.CloseAsOperator(clock.UtcNow);
        if (wasOpen)
        {
            await sessions.UpdateAsync(session, cancellationToken);
        }

        // Also when it was closed already: its channel may have been left open (the relay was down then).
        closed.NotifyClosed(session.Id.Value);
        return new AdminSessionClosedDto(session.Id.Value, session.Title.Value, wasOpen, cancelled is not null);
    }
}

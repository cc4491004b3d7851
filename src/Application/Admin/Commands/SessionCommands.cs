using AutoMapper;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Sessions.Queries;
using MeatLizard.Application.Transcripts;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>What closing did; <see cref="WasOpen"/> is false when the chat was already closed.</summary>
public sealed record AdminSessionClosedDto(Guid SessionId, string Title, bool WasOpen, bool GenerationCancelled);

/// <summary>Closes anyone's chat (a generation still running is cancelled first).</summary>
public sealed record CloseSessionAsAdmin(AdminActor Actor, Guid SessionId) : AdminCommand<AdminSessionClosedDto>(Actor)
{
    public override string AuditName => "session close";

    public override string? AuditArguments => $"id={SessionId:D}";
}

public sealed class CloseSessionAsAdminValidator : AbstractValidator<CloseSessionAsAdmin>
{
    public CloseSessionAsAdminValidator() =>
        RuleFor(c => c.SessionId).NotEqual(Guid.Empty).WithMessage("Give the chat's id (a GUID, as /sessions lists it).");
}

internal static class AdminSessions
{
    public static async Task<ChatSession> FindAsync(
        IChatSessionRepository sessions, Guid id, CancellationToken cancellationToken) =>
        await sessions.GetAsync(new SessionId(id), cancellationToken)
        ?? throw NotFoundException.Chat(id);
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

/// <summary>Stores anyone's chat transcript (JSON and CSV) and returns its download links.</summary>
public sealed record StoreTranscriptAsAdmin(AdminActor Actor, Guid SessionId) : AdminCommand<StoredTranscriptDto>(Actor)
{
    public override string AuditName => "transcript";

    public override string? AuditArguments => $"session={SessionId:D}";
}

public sealed class StoreTranscriptAsAdminValidator : AbstractValidator<StoreTranscriptAsAdmin>
{
    public StoreTranscriptAsAdminValidator() =>
        RuleFor(c => c.SessionId).NotEqual(Guid.Empty).WithMessage("Give the chat's id (a GUID, as /sessions lists it).");
}

public sealed class StoreTranscriptAsAdminHandler(
    IChatSessionRepository sessions, IChatReadModel reads, IMapper mapper, TranscriptArchive archive)
    : IRequestHandler<StoreTranscriptAsAdmin, StoredTranscriptDto>
{
    public async Task<StoredTranscriptDto> Handle(StoreTranscriptAsAdmin request, CancellationToken cancellationToken)
    {
        var session = await AdminSessions.FindAsync(sessions, request.SessionId, cancellationToken);
        var messages = await reads.GetTranscriptAsync(session.Id, cancellationToken);
        return await archive.StoreAsync(
            new TranscriptDto(mapper.Map<SessionDto>(session), messages), session.OwnerId.Value, cancellationToken);
    }
}

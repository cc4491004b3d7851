using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Sessions.Queries;
using MeatLizard.Application.Transcripts;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Stores anyone's chat transcript (JSON and CSV) and returns its download links.</summary>
public sealed record StoreTranscriptAsAdmin(AdminActor Actor, Guid SessionId) : AdminCommand<StoredTranscriptDto>(Actor)
{
    public override string AuditName => "transcript";

    public override string? AuditArguments => $"session={SessionId:D}";
}

/// <remarks>The same transcript as the owner's (<see cref="TranscriptArchive.StoreChatAsync"/>).</remarks>
public sealed class StoreTranscriptAsAdminHandler(IChatSessionRepository sessions, TranscriptArchive archive)
    : IRequestHandler<StoreTranscriptAsAdmin, StoredTranscriptDto>
{
    public async Task<StoredTranscriptDto> Handle(StoreTranscriptAsAdmin request, CancellationToken cancellationToken) =>
        await archive.StoreChatAsync(await AdminSessions.FindAsync(sessions, request.SessionId, cancellationToken),
            cancellationToken);
}

using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Chats.Queries;

namespace MeatLizard.Application.Transcripts.Commands;

/// <summary>
/// Stores the chat's transcript (JSON and CSV) in the object store and returns download links: the owner's own chat
/// or, by an admin (<see cref="Admin"/>), anyone's.
/// </summary>
public sealed record StoreTranscript(Guid ChatId) : IRequest<StoredTranscriptDto>, IRateLimitedRequest, IOwnerOrAdminAction
{
    public AdminActor? Admin { get; init; }

    public string AuditName => "transcript";

    public string? AuditArguments => $"session={ChatId:D}";

    /// <summary>
    /// Every store writes two new objects; the retention sweep removes them later, this limits the rate of an owner's
    /// stores. An admin's store (a moderation step, audited) takes from no bucket, as before the two were one request.
    /// </summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => Admin is null ? [RateLimitScope.TranscriptStore] : [];
}

public sealed class StoreTranscriptHandler(UserAccess access, TranscriptArchive archive)
    : IRequestHandler<StoreTranscript, StoredTranscriptDto>
{
    public async Task<StoredTranscriptDto> Handle(StoreTranscript request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireChatAsync(request.ChatId, request.Admin, cancellationToken);
        return await archive.StoreChatAsync(chat, cancellationToken);
    }
}

public sealed class StoreTranscriptValidator : AbstractValidator<StoreTranscript>
{
    public StoreTranscriptValidator() => RuleFor(c => c.ChatId).NotEqual(Guid.Empty)
        .WithMessage("Give the chat's id (a GUID, as /sessions lists it).");
}

using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages;

namespace MeatLizard.Application.Chats.Queries;

public sealed record TranscriptDto(SessionDto Session, IReadOnlyList<MessageDto> Messages);

/// <summary>
/// The chat's current path; with <see cref="All"/> every message of its tree (each names its parent), as written. An
/// export: the messages' images come with their bytes.
/// </summary>
public sealed record GetTranscript(Guid Id, bool All = false) : IRequest<TranscriptDto>;

public sealed class GetTranscriptHandler(UserAccess access, IChatReadModel reads, ChatImages images)
    : IRequestHandler<GetTranscript, TranscriptDto>
{
    public async Task<TranscriptDto> Handle(GetTranscript request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.Id, cancellationToken);
        var messages = await reads.GetTranscriptAsync(chat.Id, request.All, cancellationToken);
        return new TranscriptDto(chat.ToDto(),
            await images.WithBytesAsync(chat.OwnerId, chat.Id, messages, cancellationToken));
    }
}

/// <summary>The image <see cref="Name"/> of the chat <see cref="Id"/> (its owner's, or an admin's to read).</summary>
public sealed record GetChatImage(Guid Id, string Name) : IRequest<ChatImage>;

public sealed class GetChatImageHandler(UserAccess access, ChatImages images) : IRequestHandler<GetChatImage, ChatImage>
{
    public async Task<ChatImage> Handle(GetChatImage request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.Id, cancellationToken);
        return await images.FindAsync(chat.OwnerId, chat.Id, request.Name, cancellationToken)
               ?? throw Common.Exceptions.NotFoundException.Image();
    }
}

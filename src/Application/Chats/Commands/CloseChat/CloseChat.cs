using FluentValidation;
using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Transcripts;

namespace MeatLizard.Application.Chats.Commands;

/// <summary>
/// Closes the chat, the owner's own or, by an admin (<see cref="Admin"/>), anyone's; a generation still running is
/// cancelled first. With <see cref="TranscriptOptions.StoreOnClose"/> the transcript is then stored and its links
/// returned (null when not stored). Closing a closed chat again stores nothing: the transcript is stored once per
/// close, however many calls (side by side or one after another) ask.
/// </summary>
public sealed record CloseChat(Guid Id) : IRequest<ChatClosedDto>, IOwnerOrAdminAction
{
    public AdminActor? Admin { get; init; }

    public string AuditName => "session close";

    public string? AuditArguments => $"id={Id:D}";
}

/// <summary>What closing did; <see cref="WasOpen"/> is false when the chat was already closed.</summary>
public sealed record ChatClosedDto(
    Guid ChatId, string Title, bool WasOpen, bool GenerationCancelled, StoredTranscriptDto? Transcript);

public sealed class CloseChatHandler(UserAccess access, ChatClosing closing)
    : IRequestHandler<CloseChat, ChatClosedDto>
{
    public async Task<ChatClosedDto> Handle(CloseChat request, CancellationToken cancellationToken)
    {
        var (owner, chat) = await access.RequireChatAsync(request.Id, request.Admin, cancellationToken);
        var closed = await closing.CloseAsync(chat,
            owner is null ? (c, now) => c.CloseAsOperator(now) : (c, now) => c.Close(owner, now), cancellationToken);
        // The transcript is null when the chat was closed before: that close stored what there was to store.
        return new ChatClosedDto(chat.Id.Value, chat.Title.Value, closed.WasOpen, closed.GenerationCancelled,
            closed.Transcript);
    }
}

public sealed class CloseChatValidator : AbstractValidator<CloseChat>
{
    public CloseChatValidator() => RuleFor(c => c.Id).NotEqual(Guid.Empty)
        .WithMessage("Give the chat's id (a GUID, as /sessions lists it).");
}

using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Personas;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Chats.Commands;

/// <summary>
/// A new chat. With <paramref name="PersonaId"/> it starts with that persona's system prompt, model and temperature
/// (what the request names itself wins); what neither names comes from the user's defaults, then the platform's.
/// </summary>
public sealed record CreateChat(
    string? Title = null, string? Model = null, string? SystemPrompt = null, double? Temperature = null,
    double? TopP = null, int? MaxTokens = null, Guid? PersonaId = null) : IRequest<SessionDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.ChatCreation];
}

public sealed class CreateChatHandler(UserAccess access, IChatRepository chats, IPersonaRepository personas,
    IClock clock)
    : IRequestHandler<CreateChat, SessionDto>
{
    public async Task<SessionDto> Handle(CreateChat request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var persona = request.PersonaId is { } id
            ? await PersonaLookup.RequireVisibleAsync(personas, user, id, "personaId", cancellationToken)
            : null;
        var chat = Chat.Start(
            user,
            request.Title is null ? null : ChatTitle.From(request.Title),
            ModelName.FromOptional(request.Model) ?? persona?.Model,
            SystemPrompt.FromOptional(request.SystemPrompt) ?? persona?.SystemPrompt,
            SamplingParameters.Create(request.Temperature ?? persona?.Temperature, request.TopP, request.MaxTokens),
            clock.UtcNow);
        await chats.AddAsync(chat, cancellationToken);
        return chat.ToDto();
    }
}

public sealed class CreateChatValidator : AbstractValidator<CreateChat>
{
    public CreateChatValidator() => RuleFor(c => c.PersonaId).NotEqual(Guid.Empty).OverridePropertyName("personaId")
        .WithMessage("Give a persona's id (as GET /api/v1/personas lists it), or none.");
}

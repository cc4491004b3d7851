using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Chats.Commands;

/// <summary>
/// Changes what is given and leaves the rest. For model and system prompt an empty string clears the value
/// (back to the platform default).
/// </summary>
public sealed record UpdateChat(
    Guid Id, string? Title = null, string? Model = null, string? SystemPrompt = null, double? Temperature = null,
    double? TopP = null, int? MaxTokens = null) : IRequest<SessionDto>, Common.Behaviours.IRateLimitedRequest
{
    /// <summary>Each change is a write: limited per user like the other edits of one's own records.</summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];

    /// <summary>A change refused (invalid, or another user's chat) costs nothing.</summary>
    public bool OnlySuccessCounts => true;
}

public sealed class UpdateChatHandler(UserAccess access, IChatRepository chats, IClock clock)
    : IRequestHandler<UpdateChat, SessionDto>
{
    public async Task<SessionDto> Handle(UpdateChat request, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireSessionAsync(request.Id, cancellationToken);
        var now = clock.UtcNow;
        if (request.Title is not null)
        {
            chat.Rename(user, ChatTitle.From(request.Title), now);
        }

        var settingsChanged = request.Model is not null || request.SystemPrompt is not null
            || request.Temperature is not null || request.TopP is not null || request.MaxTokens is not null;
        if (settingsChanged)
        {
            var sampling = SamplingParameters.Create(
                request.Temperature ?? chat.Sampling.Temperature,
                request.TopP ?? chat.Sampling.TopP,
                request.MaxTokens ?? chat.Sampling.MaxTokens);
            chat.ChangeSettings(
                user,
                request.Model is null ? chat.Model : ModelName.FromOptional(request.Model),
                request.SystemPrompt is null ? chat.SystemPrompt : SystemPrompt.FromOptional(request.SystemPrompt),
                sampling,
                now);
        }

        await chats.UpdateAsync(chat, cancellationToken);
        return chat.ToDto();
    }
}

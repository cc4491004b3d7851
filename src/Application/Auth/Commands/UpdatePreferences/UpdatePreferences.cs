using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// The caller's defaults for the chats they start: a model (over a chat network channel's and the platform's default,
/// under a model the chat itself names) and a system prompt (when the chat names none). Empty or null clears one.
/// </summary>
public sealed record PreferencesDto(string? DefaultModel, string? SystemPrompt)
{
    public static PreferencesDto Of(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new(user.Preferences.DefaultModel?.Value, user.Preferences.SystemPrompt?.Value);
    }
}

/// <summary>The caller's defaults (<see cref="PreferencesDto"/>).</summary>
public sealed record GetPreferences : IRequest<PreferencesDto>;

public sealed class GetPreferencesHandler(UserAccess access) : IRequestHandler<GetPreferences, PreferencesDto>
{
    public async Task<PreferencesDto> Handle(GetPreferences request, CancellationToken cancellationToken) =>
        PreferencesDto.Of(await access.RequireActiveUserAsync(cancellationToken));
}

/// <summary>Replaces the caller's defaults (<see cref="PreferencesDto"/>); chats started before keep theirs.</summary>
public sealed record UpdatePreferences(string? DefaultModel, string? SystemPrompt)
    : IRequest<PreferencesDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class UpdatePreferencesHandler(UserAccess access, StoredAccounts accounts)
    : IRequestHandler<UpdatePreferences, PreferencesDto>
{
    public async Task<PreferencesDto> Handle(UpdatePreferences request, CancellationToken cancellationToken)
    {
        var caller = await access.RequireActiveUserAsync(cancellationToken);
        var preferences = new UserPreferences(
            ModelName.FromOptional(request.DefaultModel?.Trim()), SystemPrompt.FromOptional(request.SystemPrompt));
        var user = await accounts.ChangeAsync(caller.Id, (stored, _) =>
        {
            stored.UpdatePreferences(preferences);
            return Task.CompletedTask;
        }, cancellationToken);
        return PreferencesDto.Of(user);
    }
}

public sealed class UpdatePreferencesValidator : AbstractValidator<UpdatePreferences>
{
    public UpdatePreferencesValidator()
    {
        RuleFor(x => x.DefaultModel)
            .Must(m => string.IsNullOrWhiteSpace(m) || ModelName.IsValid(m.Trim()))
            .OverridePropertyName("defaultModel")
            .WithMessage(ModelName.Requirement);
        RuleFor(x => x.SystemPrompt!.Length).LessThanOrEqualTo(SystemPrompt.MaxLength)
            .When(x => x.SystemPrompt is not null)
            .OverridePropertyName("systemPrompt")
            .WithMessage($"A system prompt holds at most {SystemPrompt.MaxLength} characters.");
    }
}

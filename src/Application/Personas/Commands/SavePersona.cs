using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Personas;

namespace MeatLizard.Application.Personas.Commands;

/// <summary>What a persona holds, as a caller gives it (<see cref="CreatePersona"/>, <see cref="UpdatePersona"/>).</summary>
public interface IPersonaFields
{
    string? Name { get; }

    string? SystemPrompt { get; }

    string? Model { get; }

    double? Temperature { get; }
}

/// <summary>
/// A new persona of the caller's, or with <paramref name="Shared"/> one for everyone: then <see cref="Admin"/> is the
/// caller as an admin, refused to others and audited (<see cref="AdminAuditBehaviour{TRequest,TResponse}"/>).
/// </summary>
public sealed record CreatePersona(string? Name, string? SystemPrompt, string? Model, double? Temperature, bool Shared)
    : IRequest<PersonaDto>, IPersonaFields, IRateLimitedRequest, IOwnerOrAdminAction
{
    public AdminActor? Admin { get; init; }

    public string AuditName => "persona create";

    public string? AuditArguments => $"name={Name} shared={Shared}";

    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>
/// Changes a persona: the caller's own, or a shared one by an admin (<see cref="Admin"/> set: audited). Another user's
/// personal persona is not found.
/// </summary>
public sealed record UpdatePersona(Guid Id, string? Name, string? SystemPrompt, string? Model, double? Temperature)
    : IRequest<PersonaDto>, IPersonaFields, IRateLimitedRequest, IOwnerOrAdminAction
{
    public AdminActor? Admin { get; init; }

    public string AuditName => "persona update";

    public string? AuditArguments => $"id={Id:D} name={Name}";

    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class CreatePersonaHandler(UserAccess access, IPersonaRepository personas, IClock clock)
    : IRequestHandler<CreatePersona, PersonaDto>
{
    public async Task<PersonaDto> Handle(CreatePersona request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var name = PersonaName.From(request.Name);
        var persona = Persona.Create(user, request.Shared, name, SystemPrompt.FromOptional(request.SystemPrompt),
            ModelName.FromOptional(request.Model?.Trim()), request.Temperature, clock.UtcNow);
        await PersonaNames.EnsureFreeAsync(personas, persona, cancellationToken);
        await personas.AddAsync(persona, cancellationToken);
        return PersonaDto.Of(persona, user);
    }
}

public sealed class UpdatePersonaHandler(UserAccess access, IPersonaRepository personas, IClock clock)
    : IRequestHandler<UpdatePersona, PersonaDto>
{
    public async Task<PersonaDto> Handle(UpdatePersona request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var persona = await personas.GetAsync(new PersonaId(request.Id), cancellationToken)
                      ?? throw NotFoundException.Persona();
        persona.Change(user, PersonaName.From(request.Name), SystemPrompt.FromOptional(request.SystemPrompt),
            ModelName.FromOptional(request.Model?.Trim()), request.Temperature, clock.UtcNow);
        await PersonaNames.EnsureFreeAsync(personas, persona, cancellationToken);
        await personas.UpdateAsync(persona, cancellationToken);
        return PersonaDto.Of(persona, user);
    }
}

/// <summary>Names are unique per owner, and among the shared personas, without regard to case.</summary>
internal static class PersonaNames
{
    public static async Task EnsureFreeAsync(IPersonaRepository personas, Persona persona, CancellationToken cancellationToken)
    {
        if (await personas.NameTakenAsync(persona.OwnerId, persona.Name.Value, persona.Id, cancellationToken))
        {
            throw new ConflictException($"There is a persona named '{persona.Name.Value}' already.", "name");
        }
    }
}

/// <summary>The bounds of a persona's fields, named as the body names them; the domain checks them again.</summary>
public abstract class PersonaFieldsValidator<T> : AbstractValidator<T>
    where T : IPersonaFields
{
    protected PersonaFieldsValidator()
    {
        RuleFor(x => x.Name).Must(n => !string.IsNullOrWhiteSpace(n) && n.Trim().Length <= PersonaName.MaxLength)
            .OverridePropertyName("name")
            .WithMessage($"A persona's name is 1–{PersonaName.MaxLength} characters.");
        RuleFor(x => x.SystemPrompt).Must(p => !string.IsNullOrWhiteSpace(p) && p.Length <= SystemPrompt.MaxLength)
            .OverridePropertyName("systemPrompt")
            .WithMessage($"A persona needs a system prompt of at most {SystemPrompt.MaxLength} characters.");
        RuleFor(x => x.Model).Must(m => string.IsNullOrWhiteSpace(m) || ModelName.IsValid(m.Trim()))
            .OverridePropertyName("model")
            .WithMessage(ModelName.Requirement);
        RuleFor(x => x.Temperature).InclusiveBetween(0, SamplingParameters.MaxTemperature)
            .When(x => x.Temperature is not null)
            .OverridePropertyName("temperature")
            .WithMessage($"Temperature is between 0 and {SamplingParameters.MaxTemperature}.");
    }
}

public sealed class CreatePersonaValidator : PersonaFieldsValidator<CreatePersona>;

public sealed class UpdatePersonaValidator : PersonaFieldsValidator<UpdatePersona>
{
    public UpdatePersonaValidator() => RuleFor(x => x.Id).NotEqual(Guid.Empty).OverridePropertyName("id");
}

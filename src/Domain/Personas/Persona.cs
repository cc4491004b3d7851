using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Domain.Personas;

/// <summary>A persona's name: 1–40 characters on one line, trimmed; what <c>/persona NAME</c> is typed with.</summary>
public sealed record PersonaName
{
    public const int MaxLength = 40;

    private PersonaName(string value) => Value = value;

    public string Value { get; }

    public static PersonaName From(string? value)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxLength || trimmed.Any(char.IsControl))
        {
            throw new DomainException($"A persona's name is 1–{MaxLength} characters on one line.",
                DomainErrorKind.Invalid, "name");
        }

        StorableText.Check(trimmed, "name");
        return new PersonaName(trimmed);
    }

    public override string ToString() => Value;
}

/// <summary>
/// A prompt preset: a name, a system prompt, and optionally a model and a temperature, chosen when a chat starts (the
/// chat copies them). A personal one is its owner's alone; a shared one (no owner) is made by an admin for everyone,
/// and only admins change it. Another user's personal persona does not exist for anyone else (NotFound, not Forbidden).
/// </summary>
public sealed class Persona : Entity<PersonaId>
{
    public const string NotFoundMessage = "There is no persona with this id.";

    private Persona(PersonaId id, UserId? ownerId, PersonaName name, SystemPrompt systemPrompt, ModelName? model,
        double? temperature, DateTimeOffset createdAt, DateTimeOffset updatedAt)
        : base(id)
    {
        OwnerId = ownerId;
        Name = name;
        SystemPrompt = systemPrompt;
        Model = model;
        Temperature = temperature;
        CreatedAt = createdAt;
        UpdatedAt = updatedAt;
    }

    /// <summary>Null for a shared persona.</summary>
    public UserId? OwnerId { get; }

    public bool IsShared => OwnerId is null;

    public PersonaName Name { get; private set; }

    public SystemPrompt SystemPrompt { get; private set; }

    public ModelName? Model { get; private set; }

    public double? Temperature { get; private set; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset UpdatedAt { get; private set; }

    /// <summary>
    /// A new persona of <paramref name="creator"/>'s, or with <paramref name="shared"/> one for everyone (admins only).
    /// </summary>
    public static Persona Create(User creator, bool shared, PersonaName name, SystemPrompt? systemPrompt,
        ModelName? model, double? temperature, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(creator);
        creator.EnsureCanAct();
        if (shared)
        {
            CheckRule(new OnlyAdminsShareAPersonaRule(creator));
        }

        return new Persona(PersonaId.New(), shared ? null : creator.Id, name, Required(systemPrompt),
            model, Checked(temperature), now, now);
    }

    public static Persona Restore(PersonaId id, UserId? ownerId, PersonaName name, SystemPrompt systemPrompt,
        ModelName? model, double? temperature, DateTimeOffset createdAt, DateTimeOffset updatedAt) =>
        new(id, ownerId, name, systemPrompt, model, temperature, createdAt, updatedAt);

    /// <summary>Everyone sees the shared ones; a personal one only its owner.</summary>
    public bool IsVisibleTo(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return IsShared || OwnerId == user.Id;
    }

    /// <summary>Its owner changes a personal one; an admin a shared one. Another's personal one is not found.</summary>
    public void EnsureChangeableBy(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        user.EnsureCanAct();
        CheckRule(new PersonaMustBeVisibleRule(this, user));
        if (IsShared)
        {
            CheckRule(new OnlyAdminsShareAPersonaRule(user));
        }
    }

    public void Change(User user, PersonaName name, SystemPrompt? systemPrompt, ModelName? model, double? temperature,
        DateTimeOffset now)
    {
        EnsureChangeableBy(user);
        Name = name;
        SystemPrompt = Required(systemPrompt);
        Model = model;
        Temperature = Checked(temperature);
        UpdatedAt = now;
    }

    /// <summary>What a chat started with it gets: its system prompt, model and temperature.</summary>
    public SamplingParameters Sampling => SamplingParameters.Create(Temperature);

    private static SystemPrompt Required(SystemPrompt? systemPrompt) => systemPrompt
        ?? throw new DomainException("A persona needs a system prompt.", DomainErrorKind.Invalid, "systemPrompt");

    /// <summary>The ranges a chat's temperature has (<see cref="SamplingParameters"/>).</summary>
    private static double? Checked(double? temperature) => SamplingParameters.Create(temperature).Temperature;
}

public sealed class OnlyAdminsShareAPersonaRule(User user) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => "Only admins make or change the personas shared with everyone.";

    public bool IsBroken() => !user.IsAdmin;
}

public sealed class PersonaMustBeVisibleRule(Persona persona, User user) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.NotFound;

    public string Message => Persona.NotFoundMessage;

    public bool IsBroken() => !persona.IsVisibleTo(user);
}

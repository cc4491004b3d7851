using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Personas;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Personas (migration 0032), the same SQL on both databases.</summary>
internal sealed class SqlPersonaRepository(IDatabaseSession session) : IPersonaRepository
{
    private const string SelectColumns = """
        SELECT id AS Id, owner_id AS OwnerId, name AS Name, system_prompt AS SystemPrompt, model AS Model,
               temperature AS Temperature, created_at AS CreatedAt, updated_at AS UpdatedAt
        FROM personas
        """;

    public Task AddAsync(Persona persona, CancellationToken cancellationToken) =>
        session.ExecuteAsync("""
            INSERT INTO personas (id, owner_id, name, system_prompt, model, temperature, created_at, updated_at)
            VALUES (@Id, @OwnerId, @Name, @SystemPrompt, @Model, @Temperature, @CreatedAt, @UpdatedAt)
            """, Parameters(persona), cancellationToken);

    public async Task<Persona?> GetAsync(PersonaId id, CancellationToken cancellationToken) =>
        (await session.QuerySingleOrDefaultAsync<PersonaRow>($"{SelectColumns} WHERE id = @Id", new { Id = id.Value },
            cancellationToken))?.ToPersona();

    public Task UpdateAsync(Persona persona, CancellationToken cancellationToken) =>
        session.ExecuteAsync("""
            UPDATE personas
            SET name = @Name, system_prompt = @SystemPrompt, model = @Model, temperature = @Temperature,
                updated_at = @UpdatedAt
            WHERE id = @Id
            """, Parameters(persona), cancellationToken);

    public async Task<bool> DeleteAsync(PersonaId id, CancellationToken cancellationToken) =>
        await session.ExecuteAsync("DELETE FROM personas WHERE id = @Id", new { Id = id.Value }, cancellationToken) > 0;

    public async Task<IReadOnlyList<Persona>> ListVisibleAsync(UserId userId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<PersonaRow>($"""
            {SelectColumns}
            WHERE owner_id IS NULL OR owner_id = @UserId
            ORDER BY CASE WHEN owner_id IS NULL THEN 0 ELSE 1 END, lower(name), id
            """, new { UserId = userId.Value }, cancellationToken);
        return rows.Select(r => r.ToPersona()).ToList();
    }

    public async Task<bool> NameTakenAsync(UserId? ownerId, string name, PersonaId? except,
        CancellationToken cancellationToken)
    {
        // Two statements rather than "@OwnerId IS NULL OR ...", which PostgreSQL cannot type when it is null.
        var owner = ownerId is null ? "owner_id IS NULL" : "owner_id = @OwnerId";
        var other = except is null ? "" : "AND id <> @Except";
        var count = await session.ExecuteScalarAsync<long>($"""
            SELECT COUNT(*) FROM personas WHERE {owner} AND lower(name) = lower(@Name) {other}
            """, new { OwnerId = ownerId?.Value, Name = name, Except = except?.Value }, cancellationToken);
        return count > 0;
    }

    private static object Parameters(Persona persona)
    {
        ArgumentNullException.ThrowIfNull(persona);
        return new
        {
            Id = persona.Id.Value,
            OwnerId = persona.OwnerId?.Value,
            Name = persona.Name.Value,
            SystemPrompt = persona.SystemPrompt.Value,
            Model = persona.Model?.Value,
            persona.Temperature,
            persona.CreatedAt,
            persona.UpdatedAt,
        };
    }

    private sealed class PersonaRow
    {
        public Guid Id { get; init; }

        public Guid? OwnerId { get; init; }

        public string Name { get; init; } = "";

        public string SystemPrompt { get; init; } = "";

        public string? Model { get; init; }

        public double? Temperature { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }

        public Persona ToPersona() => Persona.Restore(new PersonaId(Id), OwnerId is { } owner ? new UserId(owner) : null,
            PersonaName.From(Name), Domain.Common.SystemPrompt.FromOptional(SystemPrompt)!, ModelName.FromOptional(Model),
            Temperature, CreatedAt, UpdatedAt);
    }
}

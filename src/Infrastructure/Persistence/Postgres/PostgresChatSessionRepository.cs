using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

internal sealed class PostgresChatSessionRepository(PostgresSession session) : IChatSessionRepository
{
    public Task AddAsync(ChatSession chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteAsync("""
            INSERT INTO chat_sessions (id, owner_id, title, status, model, system_prompt, temperature, top_p,
                                       max_tokens, discord_channel_id, created_at, updated_at, closed_at)
            VALUES (@Id, @OwnerId, @Title, @Status, @Model, @SystemPrompt, @Temperature, @TopP,
                    @MaxTokens, @DiscordChannelId, @CreatedAt, @UpdatedAt, @ClosedAt)
            """, Parameters(chat), cancellationToken);
    }

    private const string Columns = """
        id AS Id, owner_id AS OwnerId, title AS Title, status AS Status, model AS Model,
        system_prompt AS SystemPrompt, temperature AS Temperature, top_p AS TopP, max_tokens AS MaxTokens,
        discord_channel_id AS DiscordChannelId, created_at AS CreatedAt, updated_at AS UpdatedAt,
        closed_at AS ClosedAt
        """;

    private const string SelectColumns = $"SELECT {Columns} FROM chat_sessions";

    public async Task<ChatSession?> GetAsync(SessionId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<SessionRow>(
            $"{SelectColumns} WHERE id = @Id", new { Id = id.Value }, cancellationToken);
        return row?.ToSession();
    }

    public async Task<SessionAnswerState?> GetWithAnswerStateAsync(SessionId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<SessionRow>($"""
            SELECT {Columns}, xmin::text AS Version,
                   EXISTS (SELECT 1 FROM relay_requests r
                           WHERE r.session_id = chat_sessions.id
                             AND r.status IN ('pending', 'dispatched', 'streaming')) AS Answering
            FROM chat_sessions
            WHERE id = @Id
            """, new { Id = id.Value }, cancellationToken);
        return row is null ? null : new SessionAnswerState(row.ToSession(), row.Answering, row.Version);
    }

    public async Task<IReadOnlyDictionary<SessionId, ChatSession>> GetManyAsync(
        IReadOnlyCollection<SessionId> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return new Dictionary<SessionId, ChatSession>();
        }

        // An array parameter: one statement text whatever the count, so it is prepared once.
        var rows = await session.QueryAsync<SessionRow>(
            $"{SelectColumns} WHERE id = ANY(@Ids)", new { Ids = ids.Select(id => id.Value).ToArray() },
            cancellationToken);
        return rows.Select(r => r.ToSession()).ToDictionary(s => s.Id);
    }

    public Task UpdateAsync(ChatSession chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteLaterAsync("""
            UPDATE chat_sessions
            SET title = @Title, status = @Status, model = @Model, system_prompt = @SystemPrompt,
                temperature = @Temperature, top_p = @TopP, max_tokens = @MaxTokens,
                discord_channel_id = @DiscordChannelId, updated_at = @UpdatedAt, closed_at = @ClosedAt
            WHERE id = @Id
            """, Parameters(chat), cancellationToken);
    }

    private static object Parameters(ChatSession chat) => new
    {
        Id = chat.Id.Value,
        OwnerId = chat.OwnerId.Value,
        Title = chat.Title.Value,
        Status = SqlValues.Lower(chat.Status),
        Model = chat.Model?.Value,
        SystemPrompt = chat.SystemPrompt?.Value,
        chat.Sampling.Temperature,
        chat.Sampling.TopP,
        chat.Sampling.MaxTokens,
        chat.DiscordChannelId,
        CreatedAt = PgValues.Instant(chat.CreatedAt),
        UpdatedAt = PgValues.Instant(chat.UpdatedAt),
        ClosedAt = PgValues.Instant(chat.ClosedAt),
    };

    private sealed class SessionRow
    {
        /// <summary>Read by <see cref="GetWithAnswerStateAsync"/> only.</summary>
        public bool Answering { get; init; }

        /// <summary>
        /// Read by <see cref="GetWithAnswerStateAsync"/> only: the row version's transaction id (<c>xmin</c>), which
        /// every write of the row changes.
        /// </summary>
        public string Version { get; init; } = "";

        public Guid Id { get; init; }

        public Guid OwnerId { get; init; }

        public string Title { get; init; } = "";

        public string Status { get; init; } = "";

        public string? Model { get; init; }

        public string? SystemPrompt { get; init; }

        public double? Temperature { get; init; }

        public double? TopP { get; init; }

        public int? MaxTokens { get; init; }

        public string? DiscordChannelId { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime UpdatedAt { get; init; }

        public DateTime? ClosedAt { get; init; }

        public ChatSession ToSession() => ChatSession.Restore(
            new SessionId(Id),
            new UserId(OwnerId),
            SessionTitle.From(Title),
            SqlValues.ToEnum<SessionStatus>(Status),
            ModelName.FromOptional(Model),
            Domain.Common.SystemPrompt.FromOptional(SystemPrompt),
            SamplingParameters.Create(Temperature, TopP, MaxTokens),
            DiscordChannelId,
            PgValues.ToInstant(CreatedAt),
            PgValues.ToInstant(UpdatedAt),
            PgValues.ToInstant(ClosedAt));
    }
}

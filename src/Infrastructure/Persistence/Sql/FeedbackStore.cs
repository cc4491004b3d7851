using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Feedback;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Feedback on answers (migration 0029), the same SQL on both databases.</summary>
internal sealed class SqlFeedbackStore(IDatabaseSession session) : IFeedbackStore
{
    private const string Columns = """
        message_id AS MessageId, rating AS Rating, comment AS Comment, model AS Model, host AS Host, updated_at AS UpdatedAt
        """;

    public async Task<FeedbackDto> SaveAsync(UserId userId, ChatId chatId, MessageId answerId, string rating,
        string? comment, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The model from the answer, the host from the request that asked for it (none for a notice written without one).
        var parameters = new
        {
            MessageId = answerId.Value,
            UserId = userId.Value,
            ChatId = chatId.Value,
            Rating = rating,
            Comment = comment,
            Now = now,
        };
        await session.ExecuteAsync("""
            INSERT INTO answer_feedback (message_id, user_id, session_id, rating, comment, model, host, created_at, updated_at)
            SELECT m.id, @UserId, m.session_id, @Rating, @Comment, m.model, CAST(r.worker_id AS TEXT), @Now, @Now
            FROM messages m LEFT JOIN relay_requests r ON r.id = m.request_id
            WHERE m.id = @MessageId AND m.session_id = @ChatId
            ON CONFLICT (message_id) DO UPDATE
                SET rating = excluded.rating, comment = excluded.comment, updated_at = excluded.updated_at
            """, parameters, cancellationToken);
        var row = await session.QuerySingleOrDefaultAsync<FeedbackRow>(
            $"SELECT {Columns} FROM answer_feedback WHERE message_id = @MessageId", parameters, cancellationToken);
        return row?.ToDto() ?? throw new InvalidOperationException("The answer was removed while it was being rated.");
    }

    public async Task<bool> WithdrawAsync(ChatId chatId, MessageId answerId, string? rating,
        CancellationToken cancellationToken)
    {
        // Two statements rather than "@Rating IS NULL OR ...", which PostgreSQL cannot type when it is null.
        var ofRating = rating is null ? "" : "AND rating = @Rating";
        return await session.ExecuteAsync($"""
            DELETE FROM answer_feedback WHERE message_id = @MessageId AND session_id = @ChatId {ofRating}
            """, new { MessageId = answerId.Value, ChatId = chatId.Value, Rating = rating }, cancellationToken) > 0;
    }

    public async Task<IReadOnlyList<FeedbackDto>> ListAsync(ChatId chatId, CancellationToken cancellationToken) =>
        (await session.QueryAsync<FeedbackRow>($"""
            SELECT {Columns} FROM answer_feedback WHERE session_id = @ChatId ORDER BY created_at
            """, new { ChatId = chatId.Value }, cancellationToken)).Select(r => r.ToDto()).ToList();

    public async Task<IReadOnlyList<ModelFeedbackDto>> CountByModelAsync(CancellationToken cancellationToken) =>
        (await session.QueryAsync<CountRow>("""
            SELECT model AS Model, host AS Host,
                   CAST(SUM(CASE WHEN rating = 'up' THEN 1 ELSE 0 END) AS INTEGER) AS Up,
                   CAST(SUM(CASE WHEN rating = 'down' THEN 1 ELSE 0 END) AS INTEGER) AS Down,
                   CAST(COUNT(comment) AS INTEGER) AS Comments,
                   MAX(updated_at) AS LastAt
            FROM answer_feedback
            GROUP BY model, host
            ORDER BY COUNT(*) DESC, model, host
            """, null, cancellationToken))
        .Select(r => new ModelFeedbackDto(r.Model, r.Host, r.Up, r.Down, r.Comments, r.LastAt)).ToList();

    private sealed class FeedbackRow
    {
        public Guid MessageId { get; init; }

        public string Rating { get; init; } = "";

        public string? Comment { get; init; }

        public string? Model { get; init; }

        public string? Host { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }

        public FeedbackDto ToDto() => new(MessageId, Rating, Comment, Model, Host, UpdatedAt);
    }

    private sealed class CountRow
    {
        public string? Model { get; init; }

        public string? Host { get; init; }

        public int Up { get; init; }

        public int Down { get; init; }

        public int Comments { get; init; }

        public DateTimeOffset LastAt { get; init; }
    }
}

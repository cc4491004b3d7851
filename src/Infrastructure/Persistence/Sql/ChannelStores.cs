using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Chat network members as users (table <c>channel_identities</c>), on either database.</summary>
internal sealed class SqlChannelIdentityStore(IDatabaseSession session, IClock clock)
    : IChannelIdentityStore
{
    private const string Find = """
        SELECT network AS Network, external_id AS ExternalId, user_id AS UserId, preferred_model AS PreferredModel,
               persona_id AS PersonaId
        FROM channel_identities WHERE network = @Network AND external_id = @ExternalId
        """;

    private const string Add = """
        INSERT INTO channel_identities (network, external_id, user_id, preferred_model, created_at)
        VALUES (@Network, @ExternalId, @UserId, @PreferredModel, @Now)
        ON CONFLICT (network, external_id) DO NOTHING
        """;

    private const string SetModel =
        "UPDATE channel_identities SET preferred_model = @Model WHERE network = @Network AND external_id = @ExternalId";

    private const string Move =
        "UPDATE channel_identities SET user_id = @UserId WHERE network = @Network AND external_id = @ExternalId";

    // Only from the member's own user (made on first use): a member linked before keeps the chats of that time with
    // the account they were linked to then.
    private const string MoveChats = """
        UPDATE chat_sessions SET owner_id = @UserId
        WHERE owner_id IN (SELECT i.user_id FROM channel_identities i JOIN users u ON u.id = i.user_id
                           WHERE i.network = @Network AND i.external_id = @ExternalId AND u.username = @MemberName)
        """;

    public async Task<ChannelIdentity?> FindAsync(string network, string externalId, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<IdentityRow>(Find,
            new { Network = network, ExternalId = externalId }, cancellationToken);
        return row?.ToIdentity();
    }

    public async Task<bool> TryAddAsync(ChannelIdentity identity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return await session.ExecuteAsync(Add, new
        {
            identity.Network, identity.ExternalId, UserId = identity.UserId.Value, identity.PreferredModel,
            Now = clock.UtcNow,
        }, cancellationToken) == 1;
    }

    public Task SetPreferredModelAsync(string network, string externalId, string? model, CancellationToken cancellationToken) =>
        session.ExecuteAsync(SetModel, new { Network = network, ExternalId = externalId, Model = model }, cancellationToken);

    public Task SetPersonaAsync(string network, string externalId, PersonaId? persona, CancellationToken cancellationToken) =>
        session.ExecuteAsync(
            "UPDATE channel_identities SET persona_id = @Persona WHERE network = @Network AND external_id = @ExternalId",
            new { Network = network, ExternalId = externalId, Persona = persona?.Value }, cancellationToken);

    public async Task MoveToUserAsync(string network, string externalId, UserId userId, CancellationToken cancellationToken)
    {
        var move = new
        {
            Network = network, ExternalId = externalId, UserId = userId.Value,
            MemberName = Username.ForChannelMember(network, externalId).Value,
        };
        await session.ExecuteAsync(MoveChats, move, cancellationToken);
        await session.ExecuteAsync(Move, move, cancellationToken);
    }

    public async Task<IReadOnlyList<ChannelIdentity>> ListForUserAsync(UserId userId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<IdentityRow>("""
            SELECT network AS Network, external_id AS ExternalId, user_id AS UserId, preferred_model AS PreferredModel,
                   persona_id AS PersonaId
            FROM channel_identities WHERE user_id = @UserId ORDER BY created_at, network, external_id
            """, new { UserId = userId.Value }, cancellationToken);
        return rows.Select(row => row.ToIdentity()).ToList();
    }

    private sealed class IdentityRow
    {
        public string Network { get; init; } = "";

        public string ExternalId { get; init; } = "";

        public Guid UserId { get; init; }

        public string? PreferredModel { get; init; }

        public Guid? PersonaId { get; init; }

        public ChannelIdentity ToIdentity() => new(Network, ExternalId, new UserId(UserId), PreferredModel,
            PersonaId is { } persona ? new PersonaId(persona) : null);
    }
}

/// <summary>
/// The bot's posted messages and members' current chats (tables <c>channel_messages</c>, <c>channel_current_chats</c>),
/// on either database.
/// </summary>
internal sealed class SqlChannelConversationStore(IDatabaseSession session, IClock clock)
    : IChannelConversationStore
{
    private const string FindPosted = """
        SELECT session_id FROM channel_messages
        WHERE network = @Network AND chat_id = @ChatId AND message_id = @MessageId
        """;

    private const string RememberPosted = """
        INSERT INTO channel_messages (network, chat_id, message_id, session_id, created_at)
        VALUES (@Network, @ChatId, @MessageId, @SessionId, @Now)
        ON CONFLICT (network, chat_id, message_id) DO NOTHING
        """;

    private const string FindCurrent = """
        SELECT session_id FROM channel_current_chats
        WHERE network = @Network AND chat_id = @ChatId AND member_id = @MemberId
        """;

    private const string SetCurrent = """
        INSERT INTO channel_current_chats (network, chat_id, member_id, session_id)
        VALUES (@Network, @ChatId, @MemberId, @SessionId)
        ON CONFLICT (network, chat_id, member_id) DO UPDATE SET session_id = excluded.session_id
        """;

    private const string ForgetCurrent =
        "DELETE FROM channel_current_chats WHERE network = @Network AND chat_id = @ChatId AND member_id = @MemberId";

    public async Task<ChatId?> FindByPostedMessageAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<Guid>(FindPosted,
            new { Network = network, ChatId = chatId, MessageId = messageId }, cancellationToken);
        return rows.Count == 0 ? null : new ChatId(rows[0]);
    }

    public Task RememberPostedAsync(string network, string chatId, string messageId, ChatId sessionId,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync(RememberPosted, new
        {
            Network = network, ChatId = chatId, MessageId = messageId, SessionId = sessionId.Value, Now = clock.UtcNow,
        }, cancellationToken);

    public async Task SetPostedAnswerAsync(string network, string chatId, IReadOnlyList<string> messageIds,
        MessageId answerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        foreach (var messageId in messageIds)
        {
            await session.ExecuteAsync("""
                UPDATE channel_messages SET answer_id = @AnswerId
                WHERE network = @Network AND chat_id = @ChatId AND message_id = @MessageId
                """, new { Network = network, ChatId = chatId, MessageId = messageId, AnswerId = answerId.Value },
                cancellationToken);
        }
    }

    public async Task<PostedAnswer?> FindPostedAnswerAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<PostedAnswerRow>("""
            SELECT session_id AS ChatId, answer_id AS AnswerId FROM channel_messages
            WHERE network = @Network AND chat_id = @ChatId AND message_id = @MessageId AND answer_id IS NOT NULL
            """, new { Network = network, ChatId = chatId, MessageId = messageId }, cancellationToken);
        return rows.Count == 0 ? null : new PostedAnswer(new ChatId(rows[0].ChatId), new MessageId(rows[0].AnswerId));
    }

    private sealed class PostedAnswerRow
    {
        public Guid ChatId { get; init; }

        public Guid AnswerId { get; init; }
    }

    public async Task<ChatId?> FindCurrentAsync(string network, string chatId, string memberId,
        CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<Guid>(FindCurrent,
            new { Network = network, ChatId = chatId, MemberId = memberId }, cancellationToken);
        return rows.Count == 0 ? null : new ChatId(rows[0]);
    }

    public Task SetCurrentAsync(string network, string chatId, string memberId, ChatId? sessionId,
        CancellationToken cancellationToken) =>
        sessionId is { } id
            ? session.ExecuteAsync(SetCurrent,
                new { Network = network, ChatId = chatId, MemberId = memberId, SessionId = id.Value }, cancellationToken)
            : session.ExecuteAsync(ForgetCurrent,
                new { Network = network, ChatId = chatId, MemberId = memberId }, cancellationToken);

    private const string QuestionColumns = """
        network AS Network, chat_id AS ChatId, message_id AS MessageId, member_id AS MemberId, group_id AS GroupId,
        session_id AS SessionId, request_id AS RequestId, reply_message_id AS ReplyMessageId, asked_at AS AskedAt,
        answered_at AS AnsweredAt
        """;

    private const string QuestionKey = "network = @Network AND chat_id = @ChatId AND message_id = @MessageId";

    public async Task<ChannelQuestion?> FindQuestionAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<QuestionRow>(
            $"SELECT {QuestionColumns} FROM channel_questions WHERE {QuestionKey}",
            new { Network = network, ChatId = chatId, MessageId = messageId }, cancellationToken);
        return rows.Count == 0 ? null : rows[0].ToQuestion();
    }

    public async Task<bool> TryAddQuestionAsync(ChannelQuestion question, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(question);
        var added = await session.ExecuteAsync("""
            INSERT INTO channel_questions (network, chat_id, message_id, member_id, group_id, session_id, asked_at)
            VALUES (@Network, @ChatId, @MessageId, @MemberId, @GroupId, @SessionId, @AskedAt)
            ON CONFLICT (network, chat_id, message_id) DO NOTHING
            """, new
        {
            question.Network, question.ChatId, question.MessageId, question.MemberId, question.GroupId,
            SessionId = question.SessionId.Value, question.AskedAt,
        }, cancellationToken);
        return added == 1;
    }

    public Task SetQuestionRequestAsync(string network, string chatId, string messageId, Guid requestId,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync($"UPDATE channel_questions SET request_id = @RequestId WHERE {QuestionKey}",
            new { Network = network, ChatId = chatId, MessageId = messageId, RequestId = requestId }, cancellationToken);

    public Task SetQuestionReplyAsync(string network, string chatId, string messageId, string replyMessageId,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync(
            $"UPDATE channel_questions SET reply_message_id = @ReplyMessageId WHERE {QuestionKey} AND reply_message_id IS NULL",
            new { Network = network, ChatId = chatId, MessageId = messageId, ReplyMessageId = replyMessageId },
            cancellationToken);

    public Task MarkQuestionAnsweredAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync(
            $"UPDATE channel_questions SET answered_at = @Now WHERE {QuestionKey} AND answered_at IS NULL",
            new { Network = network, ChatId = chatId, MessageId = messageId, Now = clock.UtcNow }, cancellationToken);

    public async Task<IReadOnlyList<ChannelQuestion>> ListUnansweredQuestionsAsync(string network, DateTimeOffset since,
        int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<QuestionRow>($"""
            SELECT {QuestionColumns} FROM channel_questions
            WHERE network = @Network AND answered_at IS NULL AND asked_at >= @Since
            ORDER BY asked_at, chat_id, message_id
            LIMIT @Max
            """, new { Network = network, Since = since, Max = max }, cancellationToken);
        return rows.Select(r => r.ToQuestion()).ToList();
    }

    private sealed class QuestionRow
    {
        public string Network { get; init; } = "";

        public string ChatId { get; init; } = "";

        public string MessageId { get; init; } = "";

        public string MemberId { get; init; } = "";

        public string? GroupId { get; init; }

        public Guid SessionId { get; init; }

        public Guid? RequestId { get; init; }

        public string? ReplyMessageId { get; init; }

        public DateTimeOffset AskedAt { get; init; }

        public DateTimeOffset? AnsweredAt { get; init; }

        public ChannelQuestion ToQuestion() => new(Network, ChatId, MessageId, MemberId, GroupId,
            new ChatId(SessionId), RequestId, ReplyMessageId, AskedAt, AnsweredAt);
    }
}


/// <summary>One-time link codes, kept as hashes (table <c>link_codes</c>), on either database.</summary>
internal sealed class SqlLinkCodeStore(IDatabaseSession session, IClock clock) : ILinkCodeStore
{
    /// <summary>Expired codes go when a new one is made, so the table holds only the last few minutes' codes.</summary>
    private static readonly string[] s_add =
    [
        "DELETE FROM link_codes WHERE expires_at < @Now",
        "INSERT INTO link_codes (code_hash, user_id, expires_at) VALUES (@Hash, @UserId, @ExpiresAt)",
    ];

    /// <summary>One statement deletes and returns it, so a code is taken once however many try at once.</summary>
    private const string Take =
        "DELETE FROM link_codes WHERE code_hash = @Hash RETURNING user_id AS UserId, expires_at AS ExpiresAt";

    public Task AddAsync(string codeHash, UserId userId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        session.ExecuteInOrderAsync(s_add,
            new { Hash = codeHash, UserId = userId.Value, ExpiresAt = expiresAt, Now = clock.UtcNow }, cancellationToken);

    public async Task<UserId?> TakeAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<CodeRow>(Take, new { Hash = codeHash }, cancellationToken);
        return rows.Count == 1 && rows[0].ExpiresAt > now ? new UserId(rows[0].UserId) : null;
    }

    public async Task<UserId?> PeekAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<CodeRow>(
            "SELECT user_id AS UserId, expires_at AS ExpiresAt FROM link_codes WHERE code_hash = @Hash",
            new { Hash = codeHash }, cancellationToken);
        return rows.Count == 1 && rows[0].ExpiresAt > now ? new UserId(rows[0].UserId) : null;
    }

    private sealed class CodeRow
    {
        public Guid UserId { get; init; }

        public DateTimeOffset ExpiresAt { get; init; }
    }
}

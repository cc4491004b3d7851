using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Abstractions;

public interface IUserRepository
{
    Task AddAsync(User user, CancellationToken cancellationToken);

    Task<User?> GetAsync(UserId id, CancellationToken cancellationToken);

    /// <summary>Usernames are unique without regard to case.</summary>
    Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken);

    Task UpdateAsync(User user, CancellationToken cancellationToken);

    /// <summary>How many admins the platform has (banned ones included: they still hold the role).</summary>
    Task<int> CountAdminsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Deletes an account that still waits for approval (it never signed in, so nothing else is theirs); false when
    /// there is no such account waiting.
    /// </summary>
    Task<bool> DeleteAwaitingApprovalAsync(UserId id, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the account and every row of theirs (chats, messages, requests, keys, links, share links, feedback,
    /// personas, sign-ins; see the SQL layer's <c>AccountErasure</c>), and records it in <see cref="IErasedAccounts"/>
    /// for its objects. Many statements: call it inside a unit of work, so it is all or nothing.
    /// </summary>
    Task EraseAsync(UserId id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Ends one sign-in session of the user (<see cref="User.EndedSessions"/>): its credentials are refused from now
    /// on. <paramref name="until"/> is when they would have expired anyway, after which the record may go. One targeted
    /// insert, so two sessions ended at once are both ended.
    /// </summary>
    Task EndSessionAsync(UserId id, string sessionId, DateTimeOffset until, DateTimeOffset now,
        CancellationToken cancellationToken);
}

using MeatLizard.Application.Search;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Full-text search over one user's chats: their titles and their messages (each database's own index).</summary>
public interface IChatSearch
{
    /// <summary>
    /// The chats (by title) and messages of <paramref name="ownerId"/> holding every one of <paramref name="words"/>,
    /// best match first (then newest), from the <paramref name="skip"/>th, at most <paramref name="take"/>.
    /// </summary>
    Task<IReadOnlyList<SearchMatch>> SearchAsync(
        UserId ownerId, SearchWords words, int skip, int take, CancellationToken cancellationToken);
}

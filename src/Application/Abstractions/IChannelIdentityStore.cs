using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// A chat network's member as a MeatLizard user (table <c>channel_identities</c>): created on first use, moved to a
/// web account when the member links it, the model the member prefers and the persona they chose (<c>/persona</c>).
/// </summary>
public sealed record ChannelIdentity(
    string Network, string ExternalId, UserId UserId, string? PreferredModel, PersonaId? PersonaId = null);

/// <summary>Which MeatLizard user each network member is (table <c>channel_identities</c>).</summary>
public interface IChannelIdentityStore
{
    Task<ChannelIdentity?> FindAsync(string network, string externalId, CancellationToken cancellationToken);

    /// <summary>Stores a new identity; false when the member has one already (another process made it first).</summary>
    Task<bool> TryAddAsync(ChannelIdentity identity, CancellationToken cancellationToken);

    /// <summary>Sets or clears (null) the member's preferred model.</summary>
    Task SetPreferredModelAsync(string network, string externalId, string? model, CancellationToken cancellationToken);

    /// <summary>Sets or clears (null) the persona the member's new chats start with.</summary>
    Task SetPersonaAsync(string network, string externalId, PersonaId? persona, CancellationToken cancellationToken);

    /// <summary>
    /// Attaches the member to another user (a linked web account): their chats from now on belong to it, and so do
    /// the chats they had as their own user (made on first use). Chats of an account they were linked to before stay
    /// there. Two writes: call it inside a unit of work.
    /// </summary>
    Task MoveToUserAsync(string network, string externalId, UserId userId, CancellationToken cancellationToken);

    /// <summary>The identities that act as <paramref name="userId"/>, oldest first.</summary>
    Task<IReadOnlyList<ChannelIdentity>> ListForUserAsync(UserId userId, CancellationToken cancellationToken);
}

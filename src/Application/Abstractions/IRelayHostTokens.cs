namespace MeatLizard.Application.Abstractions;

/// <summary>
/// A model host's token for the direct relay (table <c>relay_host_tokens</c>): the host presents it when it dials the
/// server. Only its SHA-256 is kept. It lets a host in; it reads and forges nothing (the envelopes' keys do that).
/// <paramref name="LastUsedAt"/>: when it last let its host in; null until then.
/// </summary>
public sealed record RelayHostToken(
    Guid Id, string Name, string TokenHash, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt = null)
{
    public bool IsRevoked => RevokedAt is not null;
}

/// <summary>The direct relay's host tokens: one live token per host name at most.</summary>
public interface IRelayHostTokens
{
    Task AddAsync(RelayHostToken token, CancellationToken cancellationToken);

    /// <summary>The token whose hash is <paramref name="tokenHash"/>, revoked or not; null when there is none.</summary>
    Task<RelayHostToken?> FindByHashAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>The live (unrevoked) token of <paramref name="name"/>, or null.</summary>
    Task<RelayHostToken?> FindLiveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every token, newest first, revoked ones too.</summary>
    Task<IReadOnlyList<RelayHostToken>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Notes that token <paramref name="id"/> let its host in at <paramref name="at"/>.</summary>
    Task MarkUsedAsync(Guid id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Revokes the live token of <paramref name="name"/> as of <paramref name="at"/>; false when it had none.</summary>
    Task<bool> RevokeAsync(string name, DateTimeOffset at, CancellationToken cancellationToken);
}

/// <summary>
/// The hosts connected to this process's direct relay endpoint. Without a direct relay (Discord, in-process) nobody is
/// connected and there is nothing to end.
/// </summary>
public interface IRelayHostLinks
{
    /// <summary>Whether host <paramref name="name"/> holds a connection to this process now.</summary>
    bool IsConnected(string name);

    /// <summary>Ends host <paramref name="name"/>'s connections (its token was revoked): it is let in no more.</summary>
    void Disconnect(string name);
}

/// <summary>No direct relay in this process.</summary>
public sealed class NoRelayHostLinks : IRelayHostLinks
{
    public bool IsConnected(string name) => false;

    public void Disconnect(string name)
    {
    }
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Status;

/// <summary>
/// The server bots running now. Each holds a lease of its own while it runs (<see cref="DutyPrefix"/> and its
/// <see cref="DutyRunner.Holder"/>), renewed every few seconds: one killed drops out of the list within a lease, one
/// stopped at once.
/// </summary>
public sealed class ServerBotsOnline(IDutyLeases leases, IClock clock)
{
    /// <summary>The duty a running server bot holds: this, then its holder name.</summary>
    public const string DutyPrefix = "server-bot:";

    /// <summary>Each running server bot as "machine (pid N)", in a stable order.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await leases.ListHoldersAsync(DutyPrefix, clock.UtcNow, cancellationToken)).Select(NameOf)];

    /// <summary>A holder ("machine:pid:run") as people read it.</summary>
    private static string NameOf(string holder) =>
        holder.Split(':') is [var machine, var pid, ..] ? $"{machine} (pid {pid})" : holder;
}

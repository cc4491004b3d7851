namespace MeatLizard.Application.Abstractions;

/// <summary>
/// What each relay process saw of the way to the model hosts, told to the others: two server bots share Discord, so an
/// outage one of them met is an outage for the hosts' heartbeats and answers whichever bot reads them. Without a shared
/// store (one process) there is nobody to tell.
/// </summary>
public interface IRelayPeerOutages
{
    /// <summary>
    /// Tells the other processes that the way has been out since <paramref name="downSince"/>, and, with
    /// <paramref name="upAt"/>, that it came back then; its hosts may be silent for <paramref name="hostsCatchUp"/> more
    /// (<see cref="IRelayListening.HostsCatchUp"/>). Never blocks and never throws: a report that cannot go is lost.
    /// </summary>
    void Report(DateTimeOffset downSince, DateTimeOffset? upAt, TimeSpan hostsCatchUp);

    /// <summary><paramref name="listener"/> hears every report of another process (never this one's own).</summary>
    void Listen(Action<RelayOutageReport> listener);
}

/// <summary>
/// One process's report (<paramref name="Reporter"/> names the process): the way out since <paramref name="DownSince"/>,
/// and back at <paramref name="UpAt"/> when that is known; the hosts behind it may be silent for
/// <paramref name="HostsCatchUp"/> after it is back (their own retries back off). Times are the reporter's clock.
/// </summary>
public sealed record RelayOutageReport(
    string Reporter, DateTimeOffset DownSince, DateTimeOffset? UpAt, TimeSpan HostsCatchUp = default);

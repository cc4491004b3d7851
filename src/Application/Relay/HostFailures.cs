using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Whether a request its host failed (the host went quiet, is stopping, or never acknowledged it) goes back to the queue
/// instead of ending with a notice. The one rule for every such failure: while attempts are left
/// (<see cref="RelayOptions.MaxAttempts"/>) it goes back when <c>anyHost</c> allows it; and whatever attempts are left,
/// it goes back while another live host serves its model, up to <see cref="RelayOptions.HostFailureRetries"/> more
/// sends, since a host's failure is not the question's fault. Past that cap (a question that brings down every host it
/// reaches) it ends.
/// </summary>
public sealed class HostFailures(ModelHosts hosts, IOptions<RelayOptions> options)
{
    /// <param name="request">
    /// The request as read, still in flight: its host (<see cref="RelayRequest.WorkerId"/>) failed it and does not count
    /// as another; its routed model is the one another host must serve. One sent to no host in particular (a relay in one
    /// process) has only its attempts.
    /// </param>
    /// <param name="anyHost">
    /// Whether, while attempts are left, it goes back even with no other host online (the failed host may be back, its
    /// envelope may have been lost, or the dispatcher tells the user no host serves the model).
    /// </param>
    /// <param name="hostRestarted">
    /// Whether its host started again after the request was sent to it: the new run never had it (it went to the old
    /// run, or into the restart), so, like another host's, its failure is not the question's and does not use up the
    /// question's attempts (up to the same cap).
    /// </param>
    public async ValueTask<bool> GoesElsewhereAsync(RelayRequest request, bool anyHost, CancellationToken cancellationToken,
        bool hostRestarted = false)
    {
        var relay = options.Value;
        if (anyHost && request.Attempts < relay.MaxAttempts)
        {
            return true;
        }

        if (hostRestarted && request.Attempts < relay.MaxAttempts + relay.HostFailureRetries)
        {
            return true;
        }

        return request.WorkerId is { } failedHost
               && request.Attempts < relay.MaxAttempts + relay.HostFailureRetries
               && await hosts.AnotherServesAsync(failedHost, request.RoutedModel, cancellationToken);
    }
}

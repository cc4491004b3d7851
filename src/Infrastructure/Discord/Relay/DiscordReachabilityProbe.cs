using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// Whether Discord answers, asked with the cheapest call there is (the bot's own user), at most
/// <see cref="AnswerWithin"/> — unless a call was answered less than <see cref="Interval"/> ago. Asked by the relay before the hosts' silence is taken for their absence, and every
/// <see cref="Interval"/> while the way is out (<see cref="RelayTransportHealth"/>), since the relay then sends nothing
/// that would tell it the way is back: the first answer ends the outage and wakes the questions held meanwhile. Asked
/// as often while a model host is late with its heartbeat (<see cref="ModelHosts.AHostIsLate"/>): with every slot busy
/// the relay may call Discord not once through an outage its hosts meet, and their silence would then be taken for
/// their absence.
/// </summary>
public sealed class DiscordReachabilityProbe(
    DiscordRestClient rest, RelayTransportHealth way, ModelHosts hosts, IOptions<RelayOptions> options, TimeProvider time)
    : BackgroundService, IRelayReachability
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Discord answers this call within well under a second; longer counts as no answer.</summary>
    public static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(3);

    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken)
    {
        if (way.AnsweredWithin(Interval))
        {
            // Some call was answered a moment ago (a dispatch, a probe): asked in every batch that finds no host, the
            // way costs Discord no more than a call a second.
            return true;
        }

        using var within = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        within.CancelAfter(AnswerWithin);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await rest.GetCurrentUserAsync(within.Token);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not DiscordApiException { Status: < System.Net.HttpStatusCode.InternalServerError })
        {
            // No answer in time, or a 5xx (the REST client noted those itself).
            way.Unreachable(Stopwatch.GetElapsedTime(started));
            return false;
        }
        catch (DiscordApiException)
        {
            return true; // Discord answered, if not as hoped (a token problem is another matter)
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (way.DownSince is not null || hosts.AHostIsLate(options.Value.HeartbeatInterval, options.Value.WorkerTimeout))
            {
                await IsReachableAsync(stoppingToken);
            }
        }
    }
}

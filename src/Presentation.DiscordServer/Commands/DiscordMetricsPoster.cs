using System.Globalization;
using MediatR;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Application.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Presentation.DiscordServer.Commands;

/// <summary>
/// Every <see cref="DiscordOptions.MetricsInterval"/> the server bot posts the figures of the interval just ended
/// (requests, p50/p95 latency, tokens/s, fallback rate, errors) to <see cref="DiscordOptions.MetricsChannelId"/>
/// (e.g. <c>#ai-metrics</c>). Without a channel configured it does nothing. A failed post is logged and the next one
/// comes on time. Consecutive posts cover consecutive periods with no gap (a late tick makes the next period longer,
/// never skips requests), and each ends <see cref="Settle"/> before the post, so figures still on their way to the
/// table (they are written in batches) land in the period they belong to before it is reported. However many server
/// bots run, one posts (<see cref="DutyRunner"/>); when it stops, another takes over within a lease and reports from
/// then on.
/// </summary>
public sealed partial class DiscordMetricsPoster(
    DiscordRestClient rest,
    DiscordOptions options,
    DiscordSelf self,
    IServiceScopeFactory scopes,
    DutyRunner duties,
    TimeProvider clock,
    ILogger<DiscordMetricsPoster> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        options.MetricsChannelId is { } channel
            ? duties.RunAsync("discord-metrics-post", token => PostEveryIntervalAsync(channel, token), stoppingToken)
            : Task.CompletedTask;

    private async Task PostEveryIntervalAsync(string channel, CancellationToken stoppingToken)
    {
        try
        {
            await self.WhenReadyAsync(stoppingToken);
            var reportedUntil = clock.GetUtcNow() - Settle;
            using var timer = new PeriodicTimer(options.MetricsInterval, clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var until = clock.GetUtcNow() - Settle;
                    await PostAsync(channel, reportedUntil, until, stoppingToken);
                    reportedUntil = until;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogFailed(logger, channel, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is DiscordGatewayFatalException)
        {
            // The gateway service stops the host and says why.
        }
    }

    /// <summary>How long after a period ends it is reported: figures are written in batches, a little after the answer.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    private async Task PostAsync(string channel, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken)
    {
        string text;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var summary = await scope.ServiceProvider.GetRequiredService<IMediator>()
                .Send(new GetMetricsSummary(until - from, until), cancellationToken);
            text = AdminSlashCommands.DescribeMetrics(summary, Period(options.MetricsInterval));
        }

        await rest.CreateMessageAsync(channel, text, cancellationToken: cancellationToken);
    }

    internal static string Period(TimeSpan interval)
    {
        static string Whole(double value) => value.ToString("0", CultureInfo.InvariantCulture);

        return interval.TotalDays >= 1 && interval.TotalDays % 1 == 0 ? Whole(interval.TotalDays) + "d"
            : interval.TotalHours >= 1 && interval.TotalHours % 1 == 0 ? Whole(interval.TotalHours) + "h"
            : interval.TotalMinutes >= 1 && interval.TotalMinutes % 1 == 0 ? Whole(interval.TotalMinutes) + " min"
            : interval.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not post the metrics summary to channel {ChannelId}")]
    private static partial void LogFailed(ILogger logger, string channelId, Exception exception);
}

using MeatLizard.Application.Common;
using MeatLizard.Application.Status;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Presentation.DiscordServer;

/// <summary>
/// Says that this server bot runs, for <c>/status</c> and <c>GET /api/v1/status</c> (<see cref="ServerBotsOnline"/>):
/// it holds a lease of its own for as long as it runs, renewed by <see cref="DutyRunner"/>, and lets it go when it stops.
/// </summary>
public sealed class ServerBotPresence(DutyRunner duties) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        duties.RunAsync(ServerBotsOnline.DutyPrefix + duties.Holder,
            running => Task.Delay(Timeout.Infinite, running), stoppingToken);
}

using MeatLizard.Presentation.Api;
using MeatLizard.Application;
using MeatLizard.Application.Abstractions;
using MeatLizard.Bench.Relay;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeatLizard.Bench.Distributed;

/// <summary>
/// The benchmark's relay server: the dispatcher (woken by PostgreSQL LISTEN/NOTIFY), answer handling and a worker
/// with the instant engine, composed as the embedded role composes them but without HTTP, on the shared PostgreSQL and
/// Redis. The server and the worker talk over the in-process transport (still encrypted): the fake Discord, with
/// Discord's per-channel rate limits, would measure Discord rather than MeatLizard.
/// </summary>
internal static class RelayHost
{
    public static async Task<int> RunAsync(string[] args) => await HostRunner.RunAsync(async () =>
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.AddApplicationServices();
        builder.Services.AddSingleton<IInferenceEngine, InstantEngine>();
        builder.AddPlatform();
        using var host = builder.Build();
        await host.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await host.RunAsync();
    });
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Bench.Relay;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// The real API host (embedded mode: SQLite, in-process relay, local worker) on a loopback Kestrel port, with either
/// the managed llama-server engine (<paramref name="llamaSettings"/>) or, when that is null, the instant engine; or,
/// with Relay:Transport=Direct among the settings, no engine of its own: its model hosts dial in (DirectRelaySetup).
/// Rate limits are off: one bench user sends every request.
/// </summary>
internal sealed class OpenAiHost(string dataRoot, IReadOnlyDictionary<string, string>? llamaSettings)
    : WebApplicationFactory<Program>
{
    public async Task<Uri> StartAsync()
    {
        var address = await StartServerAsync();
        await WaitForHostAsync();
        return address;
    }

    /// <summary>Starts the host without waiting for a model host (one that dials in needs the address first).</summary>
    public async Task<Uri> StartServerAsync()
    {
        // The API's content root is its own folder in the repository (appsettings.json lives there).
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_MEATLIZARD_PRESENTATION_API",
            Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Presentation.Api")));
        UseKestrel(0);
        StartServer();
        await BenchOperator.SeedAsync(Services);
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address + "/");
    }

    /// <summary>Waits until a model host (its local worker, or one that dialled in) is alive.</summary>
    public async Task WaitForHostAsync()
    {
        var presence = Services.GetRequiredService<IHostPresence>();
        while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
        {
            await Task.Delay(20);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Data:Root", dataRoot);
        builder.UseSetting("Urls", "http://127.0.0.1:0");
        foreach (var limit in new[]
                 {
                     "PerUserPerMinute", "PerIpPerMinute", "ChatCreationPerUserPerMinute", "MaxWaitingCallsPerUser",
                     "MaxOpenStreamsPerUser",
                 })
        {
            builder.UseSetting($"RateLimits:{limit}", "0");
        }

        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        if (llamaSettings is null)
        {
            builder.ConfigureTestServices(services => services.AddSingleton<IInferenceEngine, InstantEngine>());
            return;
        }

        foreach (var (key, value) in llamaSettings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

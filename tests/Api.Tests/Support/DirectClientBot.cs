extern alias clientbot;

using System.Security.Cryptography;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.HostTokens;
using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClientBotComposition = clientbot::MeatLizard.Presentation.DiscordClient.ClientBotComposition;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// A client bot composed exactly as its host is (<see cref="ClientBotComposition.AddDiscordClientBot"/>) with
/// Relay:Transport=Direct: it dials the API's relay endpoint with a host token, over a real WebSocket, and answers with
/// a scripted engine. Its own data folder (and SQLite file), as on the Mac.
/// </summary>
public sealed class DirectClientBot : IAsyncDisposable
{
    private readonly string _dataRoot;

    private DirectClientBot(IHost host, string dataRoot)
    {
        Host = host;
        _dataRoot = dataRoot;
    }

    public IHost Host { get; }

    public DirectRelayDialer Dialer => Host.Services.GetRequiredService<DirectRelayDialer>();

    public DirectHostRelayTransport Transport => Host.Services.GetRequiredService<DirectHostRelayTransport>();

    /// <summary>The settings an API host needs to run the direct relay's server end, sharing <paramref name="key"/>.</summary>
    public static Dictionary<string, string?> ApiSettings(string key) => new()
    {
        ["Relay:Transport"] = "Direct",
        ["Relay:Keys:0:Id"] = "1",
        ["Relay:Keys:0:Key"] = key,
    };

    /// <summary>A host token for <paramref name="name"/>, made in <paramref name="api"/> as its <c>hosts add NAME</c> verb makes one.</summary>
    public static async Task<string> AddHostAsync(ApiHost api, string name)
    {
        await using var scope = api.Services.CreateAsyncScope();
        var made = await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new CreateHostToken(AdminActors.CommandLine, name));
        return made.Token;
    }

    /// <summary>A new relay key (32 random bytes, base64).</summary>
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Starts a client bot dialling <paramref name="api"/> with <paramref name="token"/>; it does not wait to be heard.
    /// It answers with <paramref name="engine"/>, or (null) with the engine <paramref name="settings"/> configure.
    /// </summary>
    public static Task<DirectClientBot> StartAsync(ApiHost api, string key, string token, ScriptedEngine? engine,
        IDictionary<string, string?>? settings = null) =>
        StartAsync(api.BaseAddress, key, token, engine, settings);

    /// <summary>As <see cref="StartAsync(ApiHost, string, string, ScriptedEngine?, IDictionary{string, string?}?)"/>, dialling the API at <paramref name="server"/> (one in a process of its own).</summary>
    public static async Task<DirectClientBot> StartAsync(Uri server, string key, string token, ScriptedEngine? engine,
        IDictionary<string, string?>? settings = null)
    {
        var bot = Build(server, key, token, engine, settings);
        await bot.Host.StartAsync();
        return bot;
    }

    /// <summary>A client bot composed for <paramref name="server"/>, not started (for its <c>doctor</c> checks).</summary>
    public static DirectClientBot Build(Uri server, string key, string token, ScriptedEngine? engine,
        IDictionary<string, string?>? settings = null)
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), "meatlizard-direct-bot", Guid.NewGuid().ToString("N"));
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Data:Root"] = dataRoot,
            ["Relay:Transport"] = "Direct",
            ["Relay:ServerUrl"] = server.ToString(),
            ["Relay:HostToken"] = token,
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = key,
            ["Relay:HeartbeatInterval"] = "00:00:00.200",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        if (engine is not null)
        {
            builder.Services.AddSingleton<IInferenceEngine>(engine);
        }

        ClientBotComposition.AddDiscordClientBot(builder);
        return new DirectClientBot(builder.Build(), dataRoot);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

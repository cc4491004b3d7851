extern alias clientbot;

using System.Security.Cryptography;
using MeatLizard.Application.Abstractions;
using MeatLizard.Presentation.Api;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClientBotComposition = clientbot::MeatLizard.Presentation.DiscordClient.ClientBotComposition;

namespace MeatLizard.Bench.OpenAi;

/// <summary>
/// The direct relay (issue 39) in front of part 1's llama-server: an API host with Relay:Transport=Direct (no engine of
/// its own) and a client bot composed exactly as its host is, dialling the API's relay endpoint over a loopback
/// WebSocket with a host token made by the operator's verb (<c>hosts add NAME</c>). The bot answers with
/// <paramref name="engine"/>, the very LlamaServerEngine (and llama-server process) the embedded host uses, so the
/// two rows differ only in the relay between the API and the engine. Both share this process with the clients.
/// </summary>
internal sealed class DirectRelaySetup : IAsyncDisposable
{
    private const string HostName = "bench-mac";

    private readonly OpenAiHost _api;
    private readonly IHost _bot;
    private readonly string _botDataRoot;

    private DirectRelaySetup(OpenAiHost api, IHost bot, string botDataRoot, Uri address)
    {
        _api = api;
        _bot = bot;
        _botDataRoot = botDataRoot;
        Address = address;
    }

    /// <summary>The API host's address (its /v1 and its relay endpoint).</summary>
    public Uri Address { get; }

    public static async Task<DirectRelaySetup> StartAsync(string dataRoot, IInferenceEngine engine)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var relay = new Dictionary<string, string>
        {
            ["Relay:Transport"] = "Direct",
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = key,
        };
        var api = new OpenAiHost(dataRoot + "-direct-api", relay);
        var address = await api.StartServerAsync();
        var token = await HostTokenAsync(api.Services);

        var botDataRoot = dataRoot + "-direct-bot";
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(relay.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Data:Root"] = botDataRoot,
            ["Relay:ServerUrl"] = address.ToString(),
            ["Relay:HostToken"] = token,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(engine);
        ClientBotComposition.AddDiscordClientBot(builder);
        var bot = builder.Build();
        await bot.StartAsync();
        await api.WaitForHostAsync();
        return new DirectRelaySetup(api, bot, botDataRoot, address);
    }

    /// <summary>The host's token, made as an operator makes it: the API host's <c>hosts add NAME</c> verb.</summary>
    private static async Task<string> HostTokenAsync(IServiceProvider services)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        if (await AdminCommandLine.RunAsync(["hosts", "add", HostName], services, null, output, error) != 0)
        {
            throw new InvalidOperationException($"hosts add {HostName} failed: {error}");
        }

        // The verb prints a line saying what it is, then the token alone on the next.
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Trim();
    }

    public async ValueTask DisposeAsync()
    {
        await _bot.StopAsync();
        _bot.Dispose();
        await _api.DisposeAsync();
        try
        {
            Directory.Delete(_botDataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

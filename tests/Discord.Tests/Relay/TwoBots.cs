using MeatLizard.Application.Channels;
using MeatLizard.Presentation.DiscordServer;
using MeatLizard.Presentation.DiscordClient;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>The signed-in user for the server host's commands (the API would take it from the request).</summary>
public sealed class TestCurrentUser : ICurrentUser
{
    public UserId? Id { get; set; }

    public string? ClientIp => null;
}

/// <summary>
/// A fake Discord with both bots running in this process as their hosts compose them (same composition code as
/// Presentation.DiscordServer / DiscordClient), a SQLite file for the server bot and a scripted engine for the worker.
/// </summary>
public sealed class TwoBots : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "meatlizard-discord-" + Guid.NewGuid().ToString("N"));
    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private TwoBots(FakeDiscordServer fake)
    {
        Fake = fake;
        ServerBot = fake.AddBot("meatlizard-server");
        ClientBot = fake.AddBot("meatlizard-client");
        Directory.CreateDirectory(_directory);
    }

    public FakeDiscordServer Fake { get; }

    public FakeBot ServerBot { get; }

    /// <summary>The first client bot, listed by the short form <c>Discord:ClientBotUserId</c>.</summary>
    public FakeBot ClientBot { get; }

    /// <summary>More client bots (each its own token and user id), listed as <c>Discord:ClientBotUserIds:0</c>, … when listed.</summary>
    public List<FakeBot> OtherClientBots { get; } = [];

    /// <summary>Which of <see cref="OtherClientBots"/> the server bot is told about (read when it starts).</summary>
    public HashSet<FakeBot> Listed { get; } = [];

    /// <summary>The hosts of <see cref="OtherClientBots"/> that run.</summary>
    public Dictionary<FakeBot, IHost> OtherClients { get; } = [];

    /// <summary>A further client bot in the fake Discord; listed for the server bot unless <paramref name="listed"/> is false.</summary>
    public FakeBot AddClientBot(string username, bool listed = true)
    {
        var bot = Fake.AddBot(username);
        OtherClientBots.Add(bot);
        if (listed)
        {
            Listed.Add(bot);
        }

        return bot;
    }

    public IHost? Server { get; private set; }

    public IHost? Client { get; private set; }

    public ScriptedEngine Engine { get; } = new();

    public TestCurrentUser User { get; } = new();

    public Dictionary<string, string?> Extra { get; } = [];

    /// <summary>Settings of one bot's host only, over <see cref="Extra"/> (e.g. the model a host serves).</summary>
    public Dictionary<FakeBot, Dictionary<string, string?>> PerBot { get; } = [];

    /// <summary>When set, the client bot's host logs to it from Debug up (hosts log nothing otherwise).</summary>
    public RecordedLogs? ClientLogs { get; set; }

    /// <summary>When set, the server bot's host logs to it from Debug up.</summary>
    public RecordedLogs? ServerLogs { get; set; }

    public static async Task<TwoBots> CreateAsync() => new(await FakeDiscordServer.StartAsync());

    private Dictionary<string, string?> Settings(FakeBot bot)
    {
        var settings = CommonSettings(bot);
        foreach (var (key, value) in PerBot.GetValueOrDefault(bot) ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    private Dictionary<string, string?> CommonSettings(FakeBot bot) => new(Extra)
    {
        ["Discord:BotToken"] = bot.Token,
        ["Discord:GuildId"] = Fake.GuildId,
        ["Discord:CategoryId"] = Fake.CategoryId,
        ["Discord:ApplicationId"] = bot.ApplicationId,
        ["Discord:ApiBaseUrl"] = Fake.ApiBaseUrl,
        ["Discord:ClientBotUserId"] = ClientBot.UserId,
        ["Discord:ServerBotUserId"] = ServerBot.UserId,
        ["Discord:ClientBotUserIds"] = Extra.GetValueOrDefault("Discord:ClientBotUserIds")
                                       ?? string.Join(",", OtherClientBots.Where(Listed.Contains).Select(b => b.UserId)),
        ["Relay:Keys:0:Id"] = "1",
        ["Relay:Keys:0:Key"] = _key,
        // An ack crosses the fake Discord twice (request out, ack back), and after a gateway outage the worker first
        // reconnects and catches up over REST: on a loaded 2-core machine that can take several seconds. Tests about
        // the ack timeout itself set a short one.
        ["Relay:AckTimeout"] = Extra.GetValueOrDefault("Relay:AckTimeout") ?? "00:00:15",
        ["Relay:CompletionTimeout"] = "00:00:30",
        ["Relay:HeartbeatInterval"] = "00:00:00.300",
        // Heartbeats cross the fake Discord (post, gateway, decrypt): on a loaded machine one can take a second or two,
        // and a worker taken for offline would turn a model answer into a fallback.
        ["Relay:WorkerTimeout"] = "00:00:04",
        ["Relay:PollInterval"] = "00:00:00.100",
        ["Relay:PartialInterval"] = "00:00:00.200",
        // Each further client bot is another Mac: its own data folder (its places in the channels are its own).
        ["Data:Root"] = OtherClientBots.Contains(bot) ? Directory.CreateDirectory(Path.Combine(_directory, bot.Username)).FullName : _directory,
        ["Fallback:Mode"] = "Inform",
    };

    private HostApplicationBuilder Builder(FakeBot bot, RecordedLogs? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = "Production",
            ContentRootPath = _directory,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(Settings(bot));
        builder.Logging.ClearProviders();
        if ((bot == ClientBot ? ClientLogs : logs) is { } recorded)
        {
            builder.Logging.AddProvider(recorded);
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
        }
        builder.Services.AddSingleton(FakeDiscordKit.FastTimings());
        return builder;
    }

    public async Task StartServerAsync()
    {
        Server = BuildServer();
        await Server.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await StartReadyAsync(Server);

        // Nobody registers before the platform has an admin: the operator makes one with the setup link, as on a new
        // install (a server bot started again on the same database finds them there).
        if (await SendAsync(new Application.Admin.Commands.CreateSetupLink()) is { } setup)
        {
            await SendAsync(new RegisterUser("operator", "correct horse battery", SetupToken: setup.Token));
        }
    }

    /// <summary>A second server bot: the same bot (token, settings, database) in a process of its own, beside the first.</summary>
    public IHost? SecondServer { get; private set; }

    public async Task StartSecondServerAsync()
    {
        SecondServer = BuildServer();
        await StartReadyAsync(SecondServer);
    }

    /// <summary>Replaces parts of the server bot's composition (a failing store, say) before it is built.</summary>
    public Action<IServiceCollection>? ServerServices { get; set; }

    private IHost BuildServer()
    {
        var builder = Builder(ServerBot, ServerLogs);
        builder.AddDiscordServerBot();
        ServerServices?.Invoke(builder.Services);
        // The test's signed-in user for the commands it sends itself; a channel member while the bot answers one.
        builder.Services.AddScoped<ICurrentUser>(provider =>
            provider.GetRequiredService<ChannelCaller>() is { Id: not null } member ? member : User);
        return builder.Build();
    }

    private static async Task StartReadyAsync(IHost server)
    {
        await server.StartAsync();
        await server.Services.GetRequiredService<DiscordSelf>().WhenReadyAsync(CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async Task StopSecondServerAsync()
    {
        if (SecondServer is not null)
        {
            await SecondServer.StopAsync();
            SecondServer.Dispose();
            SecondServer = null;
        }
    }

    public async Task StartClientAsync()
    {
        var builder = Builder(ClientBot);
        if (!Extra.ContainsKey("Inference:Engine"))
        {
            builder.Services.AddSingleton<IInferenceEngine>(Engine);
        }

        builder.AddDiscordClientBot();
        Client = builder.Build();
        await Client.StartAsync();
        await Client.Services.GetRequiredService<DiscordSelf>().WhenReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        if (Server is not null)
        {
            // Ready when the server bot has heard the worker's heartbeat over the control channel.
            var presence = Server.Services.GetRequiredService<IHostPresence>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while ((await presence.ListAliveAsync(CancellationToken.None)).Count == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("The server bot never heard the worker's heartbeat.");
                }

                await Task.Delay(25);
            }
        }
    }

    /// <summary>
    /// Starts the host of one of <see cref="OtherClientBots"/>, composed as the client bot host is, with its own engine;
    /// returns once it is connected (the server bot hearing it is up to the test: an unlisted bot is never heard).
    /// </summary>
    public async Task<IHost> StartClientAsync(FakeBot bot, ScriptedEngine engine, RecordedLogs? logs = null)
    {
        var builder = Builder(bot, logs);
        builder.Services.AddSingleton<IInferenceEngine>(engine);
        builder.AddDiscordClientBot();
        var host = builder.Build();
        OtherClients[bot] = host;
        await host.StartAsync();
        await host.Services.GetRequiredService<DiscordSelf>().WhenReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return host;
    }

    /// <summary>Waits until the server bot counts <paramref name="count"/> workers alive (each host heard over the control channel).</summary>
    public async Task WaitForWorkersAsync(int count, TimeSpan? timeout = null)
    {
        var presence = Server!.Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        int alive;
        while ((alive = (await presence.ListAliveAsync(CancellationToken.None)).Count) != count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The server bot counts {alive} workers alive, not {count}.");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>Waits until the server bot no longer counts any worker alive (Relay:WorkerTimeout after the last heartbeat).</summary>
    public async Task WaitUntilNoWorkerIsAliveAsync()
    {
        var presence = Server!.Services.GetRequiredService<IHostPresence>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while ((await presence.ListAliveAsync(CancellationToken.None)).Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The server bot still counts a worker alive 15 s after it stopped.");
            }

            await Task.Delay(50);
        }
    }

    public async Task StopClientAsync()
    {
        if (Client is not null)
        {
            await Client.StopAsync();
            Client.Dispose();
            Client = null;
        }
    }

    /// <summary>Stops the server bot (its database stays, as after a process restart); start it again with <see cref="StartServerAsync"/>.</summary>
    public async Task StopServerAsync()
    {
        if (Server is not null)
        {
            await Server.StopAsync();
            Server.Dispose();
            Server = null;
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    public async Task<TResponse> SendAsync<TResponse>(IRequest<TResponse> request)
    {
        await using var scope = Server!.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }

    /// <summary>Registers a user, signs them in and opens a chat.</summary>
    public async Task<Guid> StartChatAsync()
    {
        var user = await SendAsync(new RegisterUser($"user{Random.Shared.Next(100000)}", "correct horse battery"));
        User.Id = new UserId(user.Id);
        return (await SendAsync(new CreateChat("A chat"))).Id;
    }

    /// <summary>Sends a message and waits until the chat holds an answer to it.</summary>
    public async Task<Application.Common.Models.MessageDto> AskAsync(Guid chatId, string text, TimeSpan? timeout = null)
    {
        var sent = await SendAsync(new SendMessage(chatId, text));
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var page = await SendAsync(new GetMessages(chatId, null));
            if (page.Messages.FirstOrDefault(m => m.RequestId == sent.RequestId && m.Role == "assistant") is { } answer)
            {
                return answer;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("No answer arrived.");
    }

    public DiscordGatewayClient Gateway(IHost host) => host.Services.GetRequiredService<DiscordGatewayClient>();

    public async ValueTask DisposeAsync()
    {
        foreach (var host in OtherClients.Values.Append(Client).Append(SecondServer).Append(Server))
        {
            if (host is not null)
            {
                try
                {
                    await host.StopAsync(TimeSpan.FromSeconds(10));
                }
                finally
                {
                    host.Dispose();
                }
            }
        }

        await Fake.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

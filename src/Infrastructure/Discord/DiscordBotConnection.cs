using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord;

/// <summary>Receives gateway events; registered handlers each get every dispatch, in order, and must be quick.</summary>
public interface IDiscordEventHandler
{
    ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken);
}

/// <summary>Who this bot is: its user and application ids, known once the gateway's READY arrived.</summary>
public sealed class DiscordSelf
{
    private readonly TaskCompletionSource<GatewayReady> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private volatile GatewayReady? _readyValue;

    public string? UserId => _readyValue?.UserId;

    public string? ApplicationId => _readyValue?.ApplicationId;

    public Task<GatewayReady> WhenReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    internal void Set(GatewayReady ready)
    {
        _readyValue ??= ready;
        _ready.TrySetResult(ready);
    }

    internal void Fail(Exception error) => _ready.TrySetException(error);
}

/// <summary>
/// This process's bot: its REST client, its gateway session, and who it is once READY arrives. Each handler gets every
/// dispatch even when one before it fails on it (logged): a member's odd message the chat cannot read must not keep it
/// from the relay's inbox or the commands.
/// </summary>
public sealed partial class DiscordBotConnection
{
    public DiscordBotConnection(DiscordOptions options, DiscordRestClient rest, DiscordGatewayClient gateway, DiscordSelf self,
        IEnumerable<IDiscordEventHandler> handlers, ILogger<DiscordBotConnection> logger)
    {
        Options = options;
        Rest = rest;
        Gateway = gateway;
        Self = self;
        var all = handlers.ToArray();
        gateway.OnDispatch = async (dispatch, cancellationToken) =>
        {
            if (dispatch.Type == "READY")
            {
                self.Set(await gateway.Ready);
            }

            foreach (var handler in all)
            {
                try
                {
                    await handler.HandleAsync(dispatch, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogHandlerFailed(logger, handler.GetType().Name, dispatch.Type, ex);
                }
            }
        };
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Handler} failed on a {Type} event; the other handlers still got it")]
    private static partial void LogHandlerFailed(ILogger logger, string handler, string type, Exception exception);

    public DiscordOptions Options { get; }

    public DiscordRestClient Rest { get; }

    public DiscordGatewayClient Gateway { get; }

    public DiscordSelf Self { get; }
}

/// <summary>
/// Runs the gateway session for the host's lifetime. A fatal close code (bad token, intents not enabled) stops the
/// host with one clear line and exit code 3: reconnecting could not help.
/// </summary>
public sealed partial class DiscordGatewayService(
    DiscordBotConnection connection, IHostApplicationLifetime lifetime, ILogger<DiscordGatewayService> logger) : BackgroundService
{
    public const int FatalExitCode = 3;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await connection.Gateway.RunAsync(stoppingToken);
        }
        catch (DiscordGatewayFatalException ex)
        {
            LogFatal(logger, ex.Message);
            connection.Self.Fail(ex);
            await Console.Error.WriteLineAsync($"Discord error: {ex.Message}");
            Environment.ExitCode = FatalExitCode;
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Discord gateway: {Reason} The bot stops.")]
    private static partial void LogFatal(ILogger logger, string reason);
}

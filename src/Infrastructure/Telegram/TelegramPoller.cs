using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MeatLizard.Application.Common;

namespace MeatLizard.Infrastructure.Telegram;

/// <summary>
/// Long polling (getUpdates), so nothing listens for webhooks. Each batch is first stored with the next offset in one
/// transaction (<see cref="ITelegramUpdateInbox"/>), and only the next getUpdates with that offset confirms it to
/// Telegram: a restart at any point loses no update. An update leaves the inbox once handled, and a restart handles
/// what is still there before polling again, so none is handled twice; a stop lets the answers under way finish. Chats are answered side by side (up to
/// <see cref="TelegramOptions.MaxConcurrentChats"/>), the updates of one chat in order. However many server bots run,
/// one polls (<see cref="DutyRunner"/>: Telegram answers a second poller with 409 Conflict); when it dies, another takes
/// over within a lease and handles what it left in the inbox.
/// </summary>
public sealed partial class TelegramPoller(
    TelegramBotClient client,
    TelegramOptions options,
    IServiceScopeFactory scopes,
    ITelegramUpdateHandler handler,
    DutyRunner duties,
    TimeProvider time,
    ILogger<TelegramPoller> logger) : BackgroundService
{
    private const int BatchLimit = 100;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _slots = new(options.MaxConcurrentChats, options.MaxConcurrentChats);
    private readonly Dictionary<long, Task> _chatTails = [];
    private readonly HashSet<long> _started = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// Cancels the answers under way: only when the host's shutdown time runs out, so a graceful stop lets them finish
    /// (an answer cut off would be asked again after the restart).
    /// </summary>
    private readonly CancellationTokenSource _handling = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        duties.RunAsync($"telegram-poll:{options.BotId}", PollAsync, stoppingToken);

    private async Task PollAsync(CancellationToken stoppingToken)
    {
        var me = await WithBackoffAsync(client.GetMeAsync, stoppingToken);
        await handler.StartAsync(me, stoppingToken);
        LogStarted(logger, me.Id);

        var botId = options.BotId;
        var offset = await UseInboxAsync(inbox => inbox.ReadOffsetAsync(botId, stoppingToken));
        try
        {
            foreach (var pending in await UseInboxAsync(inbox => inbox.ReadPendingAsync(botId, stoppingToken)))
            {
                Start(botId, pending, stoppingToken);
            }

            while (!stoppingToken.IsCancellationRequested)
            {
                var currentOffset = offset;
                var updates = await WithBackoffAsync(
                    token => client.GetUpdatesAsync(currentOffset, BatchLimit, options.PollTimeoutSeconds, token), stoppingToken);
                if (updates.Count == 0)
                {
                    continue;
                }

                var stored = updates.Select(u => new StoredTelegramUpdate(u.UpdateId, JsonSerializer.Serialize(u, TelegramJson.Options))).ToList();
                offset = Math.Max(offset, updates.Max(u => u.UpdateId) + 1);
                var nextOffset = offset;
                if (!await TryAcceptAsync(botId, stored, nextOffset))
                {
                    // Not stored: Telegram still holds the batch (the offset it knows is unchanged); asked for again.
                    offset = currentOffset;
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
                    continue;
                }

                foreach (var update in stored)
                {
                    Start(botId, update, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Task[] running;
            lock (_lock)
            {
                running = [.. _chatTails.Values];
            }

            await Task.WhenAll(running);
        }
    }

    /// <summary>Queues an update behind the earlier ones of its chat; an update already under way is not started again.</summary>
    private void Start(string botId, StoredTelegramUpdate stored, CancellationToken stoppingToken)
    {
        var update = JsonSerializer.Deserialize<TelegramUpdate>(stored.Payload, TelegramJson.Options)!;
        var chatId = update.Message?.Chat.Id ?? update.MessageReaction?.Chat.Id ?? 0;
        lock (_lock)
        {
            if (!_started.Add(stored.UpdateId))
            {
                return;
            }

            var before = _chatTails.GetValueOrDefault(chatId, Task.CompletedTask);
            _chatTails[chatId] = HandleAfterAsync(before, botId, update, stoppingToken);
        }
    }

    private async Task HandleAfterAsync(Task before, string botId, TelegramUpdate update, CancellationToken stoppingToken)
    {
        // The update before in this chat never fails (its own failures are logged), so this only waits for it.
        await before.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await _slots.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            // Not begun before the stop: left in the inbox, handled after the restart.
            return;
        }

        try
        {
            await handler.HandleAsync(update, _handling.Token);
        }
        catch (OperationCanceledException) when (_handling.IsCancellationRequested)
        {
            // Cut off by the end of the shutdown time: left in the inbox, handled again after the restart.
            return;
        }
        catch (Exception ex)
        {
            // A failure is final for this update (it would fail again): it leaves the inbox like a handled one.
            LogHandlerFailed(logger, update.UpdateId, ex);
        }
        finally
        {
            _slots.Release();
        }

        try
        {
            await UseInboxAsync(inbox => inbox.CompleteAsync(botId, update.UpdateId, CancellationToken.None));
        }
        catch (Exception ex)
        {
            // Still pending: handled again after the next restart (at least once, never lost).
            LogCompleteFailed(logger, update.UpdateId, ex);
            return;
        }

        lock (_lock)
        {
            // Out of the inbox now: Telegram will not send it again (its offset is past it), so the id may be forgotten.
            _started.Remove(update.UpdateId);
        }
    }

    /// <summary>Stores a batch with its next offset; false (logged) when the database refused, e.g. while it is down.</summary>
    private async Task<bool> TryAcceptAsync(string botId, IReadOnlyList<StoredTelegramUpdate> stored, long nextOffset)
    {
        try
        {
            // Not cancelled by the stop: a batch Telegram gave is stored whole or not at all.
            await UseInboxAsync(inbox => inbox.AcceptAsync(botId, stored, nextOffset, CancellationToken.None));
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAcceptFailed(logger, stored.Count, ex);
            return false;
        }
    }

    private async Task<T> UseInboxAsync<T>(Func<ITelegramUpdateInbox, Task<T>> work)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>());
    }

    private async Task UseInboxAsync(Func<ITelegramUpdateInbox, Task> work)
    {
        await using var scope = scopes.CreateAsyncScope();
        await work(scope.ServiceProvider.GetRequiredService<ITelegramUpdateInbox>());
    }

    /// <summary>
    /// Retries what Telegram or the network refused for a while (429 as long as it asks, 409 while another poller of
    /// the same token still runs); a refused token stops the host with one line naming the setting.
    /// </summary>
    private async Task<T> WithBackoffAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await call(stoppingToken);
            }
            catch (TelegramApiException ex) when (ex.ErrorCode is 401 or 404)
            {
                // The Bot API answers 404 too for a token of no bot.
                throw new ConfigurationException($"Telegram:BotToken was refused by the Bot API ({ex.ErrorCode}): check the token from @BotFather.");
            }
            catch (TelegramApiException ex)
            {
                var wait = ex.RetryAfter ?? backoff;
                LogPollFailed(logger, ex.Method, ex.ErrorCode, (int)wait.TotalMilliseconds);
                await Task.Delay(wait, time, stoppingToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>
    /// Stops polling at once and starts no further update; the answers under way finish unless
    /// <paramref name="cancellationToken"/> (the host's shutdown time) runs out first.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using var cutOff = cancellationToken.Register(_handling.Cancel);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _handling.Dispose();
        _slots.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Telegram bot {BotUserId} is polling for updates")]
    private static partial void LogStarted(ILogger logger, long botUserId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telegram {Method} failed ({ErrorCode}); trying again in {DelayMs} ms")]
    private static partial void LogPollFailed(ILogger logger, string method, int errorCode, int delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not store {Count} Telegram update(s); asking Telegram for them again")]
    private static partial void LogAcceptFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not mark Telegram update {UpdateId} handled; it is handled again after a restart")]
    private static partial void LogCompleteFailed(ILogger logger, long updateId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling Telegram update {UpdateId} failed; it is dropped")]
    private static partial void LogHandlerFailed(ILogger logger, long updateId, Exception exception);
}

using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Chats;

/// <summary>
/// Deletes the chats that were to keep nothing (OpenAI's <c>store: false</c>) and are still here past their time with
/// no question under way: a crash between a chat's creation and its question being queued, or a deletion after the
/// answer that failed. Each deleted chat is signalled as closed, so its relay channel goes too, and its images go from the
/// object store. Idempotent, so every API instance may run it.
/// </summary>
public sealed partial class ForgottenChatSweeper(
    IServiceScopeFactory scopes, IChatClosedSignal closed, IClock clock, ILogger<ForgottenChatSweeper> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Chats deleted in one pass at most; the rest wait for the next.</summary>
    private const int Batch = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var deleted = await SweepAsync(clock.UtcNow, stoppingToken);
                if (deleted > 0)
                {
                    LogDeleted(deleted);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSweepFailed(ex.GetType().Name); // the database may be away for a while; the next pass tries again
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass as at <paramref name="now"/>; the number of chats deleted.</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        var images = scope.ServiceProvider.GetRequiredService<Messages.ChatImages>();
        var due = await chats.ListForgettableAsync(now, Batch, cancellationToken);
        foreach (var id in due)
        {
            // Its images first: a store that fails leaves the chat for the next pass, not its images for no one.
            if (await chats.GetAsync(id, cancellationToken) is { } chat)
            {
                await images.ForgetChatAsync(chat.OwnerId, id, cancellationToken);
            }

            await chats.DeleteAsync(id, cancellationToken);
            closed.NotifyClosed(id.Value);
        }

        return due.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} chat(s) that were to keep nothing")]
    private partial void LogDeleted(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sweep of chats that keep nothing failed ({ErrorType}); it runs again later")]
    private partial void LogSweepFailed(string errorType);
}

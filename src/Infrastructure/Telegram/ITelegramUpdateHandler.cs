namespace MeatLizard.Infrastructure.Telegram;

/// <summary>What the bot does with the updates the poller receives.</summary>
public interface ITelegramUpdateHandler
{
    /// <summary>Called once the bot knows who it is (getMe), before the first update.</summary>
    Task StartAsync(TelegramUser me, CancellationToken cancellationToken);

    /// <summary>
    /// Handles one update. Cancelled when the host stops: an update whose handling was cancelled is handled again after
    /// the restart, so the handler must not finish its effect after it saw the cancellation.
    /// </summary>
    Task HandleAsync(TelegramUpdate update, CancellationToken cancellationToken);
}

using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Discord.Relay;

/// <summary>
/// The client bot "is typing" in a chat's channel while the model generates its answer: <c>POST
/// /channels/{id}/typing</c> at once and again every <see cref="DiscordOptions.TypingInterval"/> (Discord shows it for
/// 10 s), until the answer is final. The calls go through the rate limiter like any other (typing has its own bucket
/// per channel, so it never delays the envelopes); a failed call is logged and the next one tried on schedule.
/// </summary>
public sealed partial class DiscordTypingIndicator(
    DiscordRestClient rest, DiscordRelayChannels channels, DiscordOptions options, TimeProvider time,
    ILogger<DiscordTypingIndicator> logger) : IGenerationIndicator
{
    /// <summary>Typing calls Discord accepted (for tests and diagnostics).</summary>
    public int Sent => _sent;

    private int _sent;

    public IAsyncDisposable Show(Guid chatId) => new Typing(this, chatId);

    /// <summary>How long a typing call under way may still take once the answer is final, before it is abandoned.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    /// <param name="stop">Set when the answer is final: no new call starts.</param>
    /// <param name="abort">Set <see cref="StopGrace"/> later: a call still under way is abandoned.</param>
    private async Task RunAsync(Guid chatId, CancellationToken stop, CancellationToken abort)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    // A call under way is let finish (briefly), so it never lands after the final answer it preceded.
                    if (await channels.FindSessionChannelAsync(chatId, abort) is { } channelId && !stop.IsCancellationRequested)
                    {
                        await rest.TriggerTypingAsync(channelId, abort);
                        Interlocked.Increment(ref _sent);
                    }
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    LogFailed(logger, chatId, ex.GetType().Name);
                }

                await Task.Delay(options.TypingInterval, time, stop);
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // The answer is final (or given up): stop showing it; a call abandoned after the grace ends here too.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not show typing for chat {SessionId} ({ErrorType})")]
    private static partial void LogFailed(ILogger logger, Guid sessionId, string errorType);

    private sealed class Typing : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly CancellationTokenSource _abort = new();
        private readonly Task _loop;
        private int _disposed;

        public Typing(DiscordTypingIndicator indicator, Guid chatId) =>
            _loop = Task.Run(() => indicator.RunAsync(chatId, _stop.Token, _abort.Token), CancellationToken.None);

        /// <summary>Stops re-sending and waits for the loop, so no typing call goes out after the final answer.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _abort.CancelAfter(StopGrace);
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
            _abort.Dispose();
        }
    }
}

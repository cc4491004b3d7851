using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Transcripts;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Auth;

/// <summary>
/// Deletes a deleted account's objects, every stored transcript under <c>transcripts/{user id}/</c>, or a deleted chat's,
/// under <c>transcripts/{user id}/{chat id}/</c> (<see cref="TranscriptArchive"/>), then forgets the account or chat
/// (<see cref="IErasedAccounts"/>). Idempotent: deleting an object twice is harmless, so a pass cut short is simply run
/// again.
/// </summary>
public sealed partial class ErasedAccountObjects(IObjectStore store, IErasedAccounts erased, ILogger<ErasedAccountObjects> logger)
{
    /// <summary>Accounts (and chats) finished in one sweep at most; the rest wait for the next.</summary>
    private const int Batch = 50;

    public static string PrefixOf(UserId id) => $"{TranscriptArchive.Prefix}{id.Value:D}/";

    public static string PrefixOf(UserId owner, ChatId chat) => $"{PrefixOf(owner)}{chat.Value:D}/";

    /// <summary>True when every object is gone; false (logged) when the store failed, for the sweep to try again.</summary>
    /// <remarks>Its transcripts, and its messages' images (<see cref="ChatImages"/>).</remarks>
    public Task<bool> DeleteAsync(UserId id, CancellationToken cancellationToken) =>
        DeleteUnderAsync([PrefixOf(id), ChatImages.PrefixOf(id)], id.Value,
            () => erased.ObjectsDeletedAsync(id, cancellationToken), cancellationToken);

    /// <summary>A deleted chat's objects, as <see cref="DeleteAsync(UserId, CancellationToken)"/> an account's.</summary>
    public Task<bool> DeleteAsync(UserId owner, ChatId chat, CancellationToken cancellationToken) =>
        DeleteUnderAsync([PrefixOf(owner, chat), ChatImages.PrefixOf(owner, chat)], chat.Value,
            () => erased.ChatObjectsDeletedAsync(chat, cancellationToken), cancellationToken);

    private async Task<bool> DeleteUnderAsync(IReadOnlyList<string> prefixes, Guid id, Func<Task> forget,
        CancellationToken cancellationToken)
    {
        try
        {
            var keys = new List<string>();
            foreach (var prefix in prefixes)
            {
                await foreach (var key in store.ListAsync(prefix, cancellationToken))
                {
                    keys.Add(key);
                }
            }

            // Listed first, deleted after: some stores do not promise a listing that stays right while it changes.
            foreach (var key in keys)
            {
                await store.DeleteAsync(key, cancellationToken);
            }

            await forget();
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDeleteFailed(id, ex.GetType().Name);
            return false;
        }
    }

    /// <summary>One pass over the accounts and chats whose objects may remain; how many were finished.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var finished = 0;
        foreach (var id in await erased.ListAsync(Batch, cancellationToken))
        {
            if (await DeleteAsync(id, cancellationToken))
            {
                finished++;
            }
        }

        foreach (var (owner, chat) in await erased.ListChatsAsync(Batch, cancellationToken))
        {
            if (await DeleteAsync(owner, chat, cancellationToken))
            {
                finished++;
            }
        }

        return finished;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The objects of deleted account or chat {Id} could not all be deleted ({ErrorType}); the sweep tries again")]
    private partial void LogDeleteFailed(Guid id, string errorType);
}

/// <summary>
/// Runs <see cref="ErasedAccountObjects.SweepAsync"/> every <see cref="Interval"/>: the objects of an account deleted
/// while the object store was away go once it is back. Every API instance may run it.
/// </summary>
public sealed partial class ErasedAccountSweeper(IServiceScopeFactory scopes, ILogger<ErasedAccountSweeper> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<ErasedAccountObjects>().SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSweepFailed(ex.GetType().Name); // the database may be away for a while; the next pass tries again
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sweep of deleted accounts' objects failed ({ErrorType}); it runs again later")]
    private partial void LogSweepFailed(string errorType);
}

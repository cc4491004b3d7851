using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Common;

/// <summary>
/// Runs the duties one process at a time does however many run (<see cref="IDutyLeases"/>): two server bots side by
/// side poll Telegram once, post the metrics once and answer each slash command once. A long duty runs while this
/// process holds its lease, renewed every third of <see cref="Lease"/>; when the holder dies, another process takes the
/// duty over once the lease has lapsed.
/// </summary>
public sealed partial class DutyRunner(IServiceScopeFactory scopes, TimeProvider time, ILogger<DutyRunner> logger)
    : IDisposable
{
    /// <summary>How long a holder keeps a duty without renewing it: how long a dead holder's duty stays undone.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);

    /// <summary>This process as a holder of leases, one per run (<see cref="DutyHolders"/>).</summary>
    public string Holder { get; } = DutyHolders.ThisRun();

    /// <summary>
    /// The run ends with its host (the container disposes this): what it still holds — a lease whose letting go failed
    /// as the host's services went — is free to take over at once by a later run in this process, as a killed
    /// process's is by another (<see cref="DutyHolders.DiedOnThisMachine"/>), instead of waited out.
    /// </summary>
    public void Dispose() => DutyHolders.Ended(Holder);

    /// <summary>
    /// Runs <paramref name="work"/> whenever this process holds <paramref name="duty"/>, until
    /// <paramref name="stoppingToken"/>: waits its turn, holds the lease while the work runs, and takes the duty up
    /// again after a pause when the work ends by itself (it failed) or the lease is lost. The work is cancelled when
    /// another process took the duty, or when this one could not renew the lease for a whole lease (a database outage,
    /// a stall): another may have taken it meanwhile, and two must never do it at once.
    /// </summary>
    public async Task RunAsync(string duty, Func<CancellationToken, Task> work, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await RunHeldAsync(duty, work, stopWhenUnsure: true, stoppingToken);
            // A duty that ended by itself is taken up again after a pause, by this process or another.
            await Task.Delay(Lease / 3, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> once, while this process holds <paramref name="duty"/> (one question's answer):
    /// waits while another process holds it (it is doing the work; if it dies, its lease lapses and this one takes
    /// over), then holds the lease until the work ends and lets it go. A database outage does not stop the work: only
    /// another process taking the duty does (this one's lease had lapsed by then). Returns when the work ended, or at
    /// once when <paramref name="cancellationToken"/> is cancelled while waiting.
    /// </summary>
    public Task RunOnceAsync(string duty, Func<CancellationToken, Task> work, CancellationToken cancellationToken) =>
        RunHeldAsync(duty, work, stopWhenUnsure: false, cancellationToken);

    private async Task RunHeldAsync(string duty, Func<CancellationToken, Task> work, bool stopWhenUnsure,
        CancellationToken stoppingToken)
    {
        var renewEvery = Lease / 3;
        while (!await TryHoldAsync(duty, stoppingToken))
        {
            await Task.Delay(renewEvery, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }

        if (stopWhenUnsure)
        {
            LogTaken(logger, duty); // a long duty; one-off duties (a question each) are too many to log
        }

        using var held = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // A long duty's failure is logged here and the duty taken up again; a one-off duty's goes to its caller.
        var working = stopWhenUnsure ? RunWorkAsync(duty, work, held.Token) : work(held.Token);
        var heldUntil = time.GetUtcNow() + Lease;
        while (!working.IsCompleted)
        {
            // WhenAny never throws: a stop ends the wait like the work's end does.
            await Task.WhenAny(working, Task.Delay(renewEvery, time, stoppingToken));
            if (working.IsCompleted || stoppingToken.IsCancellationRequested)
            {
                break;
            }

            bool? renewed = null;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var now = time.GetUtcNow();
                renewed = await scope.ServiceProvider.GetRequiredService<IDutyLeases>()
                    .TryHoldAsync(duty, Holder, now, now + Lease, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRenewFailed(logger, duty, ex.GetType().Name);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            if (renewed == true)
            {
                heldUntil = time.GetUtcNow() + Lease;
            }
            else if (renewed == false || (stopWhenUnsure && time.GetUtcNow() >= heldUntil))
            {
                // Another process holds it now, or may: this one stops before two do the duty.
                LogLost(logger, duty);
                await held.CancelAsync();
                break;
            }
        }

        try
        {
            await working;
        }
        catch (OperationCanceledException) when (held.IsCancellationRequested)
        {
            // stopped, or the duty lost to another process, which does it now
        }
        finally
        {
            await ReleaseQuietlyAsync(duty);
        }
    }

    /// <summary>
    /// Claims a one-off duty (one slash command's answer): true for the first process to ask, false for every other.
    /// The claim is kept for <paramref name="keep"/> (neither renewed nor let go), so nobody takes the duty up again.
    /// </summary>
    public async Task<bool> TryClaimOnceAsync(string duty, TimeSpan keep, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var leases = scope.ServiceProvider.GetRequiredService<IDutyLeases>();
        await leases.PurgeLapsedAsync(now, cancellationToken);
        // A holder of its own: the same process asking again (a gateway event replayed) finds the claim taken too.
        return await leases.TryHoldAsync(duty, $"{Holder}:{Guid.NewGuid():N}", now, now + keep, cancellationToken);
    }

    /// <summary>
    /// Takes or renews <paramref name="duty"/>'s lease. A lease whose holder ran on this machine and is gone (killed:
    /// its process no longer runs, so it let nothing go) is taken over at once instead of waited out: a server bot
    /// killed and started again polls Telegram and finishes its members' questions without a lease's pause.
    /// </summary>
    private async Task<bool> TryHoldAsync(string duty, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var leases = scope.ServiceProvider.GetRequiredService<IDutyLeases>();
            if (await leases.TryHoldAsync(duty, Holder, now, now + Lease, cancellationToken))
            {
                return true;
            }

            return await leases.HolderOfAsync(duty, cancellationToken) is { } holder && DutyHolders.DiedOnThisMachine(holder)
                   && await leases.TakeOverAsync(duty, holder, Holder, now + Lease, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogRenewFailed(logger, duty, ex.GetType().Name);
            return false;
        }
    }

    private async Task RunWorkAsync(string duty, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        try
        {
            await work(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogWorkFailed(logger, duty, ex);
        }
    }

    private async Task ReleaseQuietlyAsync(string duty)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IDutyLeases>().ReleaseAsync(duty, Holder, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRenewFailed(logger, duty, ex.GetType().Name); // it lapses by itself
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "This process now does the duty {Duty}")]
    private static partial void LogTaken(ILogger logger, string duty);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This process no longer holds the duty {Duty}; it stops it")]
    private static partial void LogLost(ILogger logger, string duty);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The lease of the duty {Duty} could not be renewed or let go ({Error})")]
    private static partial void LogRenewFailed(ILogger logger, string duty, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The duty {Duty} failed; it is taken up again")]
    private static partial void LogWorkFailed(ILogger logger, string duty, Exception exception);
}

using MeatLizard.Application.Auth;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Keeps a long-lived answer (a chat's event stream, an OpenAI stream) no longer than the credential it was opened
/// with: the credential is checked again every <see cref="Recheck"/> (a cached read of the user row), and a ban, a
/// revoked API key or a logout of that sign-in session — at any instance — ends it.
/// </summary>
public sealed class CredentialWatch
{
    /// <summary>How often an open stream checks that its credential still stands.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    private volatile bool _ended;

    private CredentialWatch()
    {
    }

    /// <summary>Whether the watch ended the stream because its credential no longer stands.</summary>
    public bool Ended => _ended;

    /// <summary>
    /// Watches <paramref name="context"/>'s credential until <paramref name="open"/> is cancelled; when it no longer
    /// stands, sets <see cref="Ended"/> and cancels <paramref name="open"/>. The returned task ends with the watch. Its
    /// log is the container's <c>ILogger&lt;CredentialWatch&gt;</c> (made once), not a logger made per stream.
    /// </summary>
    public static (CredentialWatch Watch, Task Running) Start(HttpContext context, CancellationTokenSource open)
    {
        var credential = SignInCredential.Of(context.User)
                         ?? throw new InvalidOperationException("A watched stream requires an authenticated caller.");
        var watch = new CredentialWatch();
        var scopes = context.RequestServices.GetRequiredService<IServiceScopeFactory>();
        var logger = context.RequestServices.GetRequiredService<ILogger<CredentialWatch>>();
        return (watch, watch.RunAsync(credential, scopes, logger, open));
    }

    private async Task RunAsync(SignInCredential credential, IServiceScopeFactory scopes, ILogger logger,
        CancellationTokenSource open)
    {
        // The stream's end disposes the timer, which ends the wait with false: most streams end before their first
        // check, and a wait cancelled by a token would throw (and capture a stack trace) at the end of every one.
        using var timer = new PeriodicTimer(Recheck);
        await using var stop = open.Token.UnsafeRegister(static state => ((PeriodicTimer)state!).Dispose(), timer);
        try
        {
            while (await timer.WaitForNextTickAsync() && !open.IsCancellationRequested)
            {
                try
                {
                    // A scope per check, so the stream holds no database connection while it waits.
                    await using var scope = scopes.CreateAsyncScope();
                    if (!await credential.IsCurrentAsync(scope.ServiceProvider.GetRequiredService<SignInCheck>(), open.Token))
                    {
                        _ended = true;
                        await open.CancelAsync();
                        return;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database may be away for a moment: the next tick checks again.
                    logger.LogWarning(ex, "An open stream could not check its credential; it tries again");
                }
            }
        }
        catch (OperationCanceledException) when (open.IsCancellationRequested)
        {
        }
    }
}

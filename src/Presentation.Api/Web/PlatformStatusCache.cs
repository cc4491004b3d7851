using MediatR;
using MeatLizard.Application.Status.Queries;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// The platform status that the anonymous <c>/ready</c> and <c>/api/v1/status</c> answer with, read at most once per
/// <see cref="Lifetime"/> per process however many callers ask: they cost anyone nothing to call, so they must not cost
/// a database query (and a Redis read) each. Callers that arrive while it is being read wait for that one read. A
/// failed read is remembered for the same second too, so a flood during an outage does not pile onto the database.
/// </summary>
public sealed class PlatformStatusCache(IServiceScopeFactory scopes, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _reading = new(1, 1);
    private Task<PlatformStatusDto>? _latest;
    private long _readAt;

    public async Task<PlatformStatusDto> GetAsync(CancellationToken cancellationToken)
    {
        if (Fresh() is { } fresh)
        {
            return await fresh.WaitAsync(cancellationToken);
        }

        await _reading.WaitAsync(cancellationToken);
        try
        {
            if (Fresh() is not { } latest)
            {
                latest = ReadAsync();
                // Wait for it here, so the next caller finds the finished read (or failure) rather than starting one.
                await ((Task)latest).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                _latest = latest;
                Volatile.Write(ref _readAt, time.GetTimestamp());
            }

            return await latest.WaitAsync(cancellationToken);
        }
        finally
        {
            _reading.Release();
        }
    }

    private Task<PlatformStatusDto>? Fresh()
    {
        var latest = Volatile.Read(ref _latest);
        return latest is not null && time.GetElapsedTime(Volatile.Read(ref _readAt)) < Lifetime ? latest : null;
    }

    /// <summary>Not cancelled with one caller's request: its result serves the others too.</summary>
    private async Task<PlatformStatusDto> ReadAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new GetPlatformStatus(), CancellationToken.None);
    }
}

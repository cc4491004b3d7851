using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// Per-user usage written in batches off the call's path (<see cref="BatchedFigures{T}"/>), summed per user, day and
/// kind by the writer.
/// </summary>
internal sealed class BatchedUsageRecorder(IServiceScopeFactory scopes, ILogger<BatchedUsageRecorder> logger)
    : BatchedFigures<UsageFigure>(scopes, logger, maxBatch: 2_000), IUsageRecorder
{
    protected override string What => "usage figures";

    public Task RecordAsync(UsageFigure figure, CancellationToken cancellationToken) => EnqueueAsync(figure);

    protected override Task WriteAsync(IServiceProvider scope, List<UsageFigure> batch) =>
        scope.GetRequiredService<IUsageBatchWriter>().WriteAsync(batch, CancellationToken.None);
}

using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Request figures written in batches off the answer's path (<see cref="BatchedFigures{T}"/>).</summary>
internal sealed class BatchedMetricsRecorder(IServiceScopeFactory scopes, ILogger<BatchedMetricsRecorder> logger)
    : BatchedFigures<RequestMetric>(scopes, logger, maxBatch: 500), IMetricsRecorder
{
    protected override string What => "request figures";

    public Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken) => EnqueueAsync(metric);

    protected override Task WriteAsync(IServiceProvider scope, List<RequestMetric> batch) =>
        scope.GetRequiredService<IMetricsBatchWriter>().WriteAsync(batch, CancellationToken.None);
}

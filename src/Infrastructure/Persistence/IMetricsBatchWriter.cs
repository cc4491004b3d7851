using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Writes many request figures at once, for <see cref="BatchedMetricsRecorder"/>; one per storage provider.</summary>
internal interface IMetricsBatchWriter
{
    Task WriteAsync(IReadOnlyList<RequestMetric> batch, CancellationToken cancellationToken);
}

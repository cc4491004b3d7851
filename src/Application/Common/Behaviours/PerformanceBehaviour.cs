using System.Diagnostics;
using MediatR;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>Warns when a request takes longer than half a second.</summary>
public sealed partial class PerformanceBehaviour<TRequest, TResponse>(ILogger<TRequest> logger)
    : IPipelineBehavior<TRequest, TResponse>
{
    public static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(500);

    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        var started = Stopwatch.GetTimestamp();
        var response = await next();
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (elapsed > Threshold && request is not ILongRunningRequest)
        {
            LogSlow(logger, typeof(TRequest).Name, (long)elapsed.TotalMilliseconds);
        }

        return response;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Slow request {RequestName} took {ElapsedMs} ms")]
    private static partial void LogSlow(ILogger logger, string requestName, long elapsedMs);
}

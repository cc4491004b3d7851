using MediatR;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>Outermost behaviour: logs what nobody expected. Expected failures (validation, 404, …) pass unlogged.</summary>
public sealed partial class UnhandledExceptionBehaviour<TRequest, TResponse>(
    ILogger<TRequest> logger, PlatformMetrics metrics)
    : IPipelineBehavior<TRequest, TResponse>
{
    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        try
        {
            return await next();
        }
        catch (Exception ex) when (!IsExpected(ex, cancellationToken))
        {
            // The request is not logged: it may hold prompts or passwords.
            metrics.DatabaseFailed(ex);
            LogUnhandled(logger, typeof(TRequest).Name, ex);
            throw;
        }
    }

    private static bool IsExpected(Exception ex, CancellationToken cancellationToken) =>
        ex is FluentValidation.ValidationException or DomainException or NotFoundException or ConflictException
            or UnauthenticatedException or RateLimitedException or Admin.AdminOnlyException
        || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception in {RequestName}")]
    private static partial void LogUnhandled(ILogger logger, string requestName, Exception exception);
}

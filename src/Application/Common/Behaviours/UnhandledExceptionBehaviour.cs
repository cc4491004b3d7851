using MediatR;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Common.Behaviours;

/// <summary>
/// Outermost behaviour: logs what nobody expected. Expected failures (validation, 404, …) pass unlogged; a service
/// that is unavailable (no model host online) is a state, not a fault: one warning line a minute per kind of request,
/// without a stack trace, however many calls meet it — and so is a database outage (restarting, out of reach), which
/// the caller is told as a 503 to try again: counted, and one warning line a minute per kind of request.
/// </summary>
public sealed partial class UnhandledExceptionBehaviour<TRequest, TResponse>(
    ILogger<TRequest> logger, PlatformMetrics metrics, UnavailableLog? unavailable = null)
    : IPipelineBehavior<TRequest, TResponse>
{
    private readonly UnavailableLog _unavailable = unavailable ?? new UnavailableLog();

    public async Task<TResponse> Handle(
        TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        try
        {
            return await next();
        }
        catch (ServiceUnavailableException ex)
        {
            if (_unavailable.IsDue(typeof(TRequest).Name))
            {
                LogUnavailable(logger, typeof(TRequest).Name, ex.Message);
            }

            throw;
        }
        catch (Exception ex) when (DatabaseFailures.IsOutage(ex) && !cancellationToken.IsCancellationRequested)
        {
            // The database restarting or out of reach: the caller gets a 503 with Retry-After and may send again, as
            // for no model host — a state the product handles, counted, logged once a minute without a stack trace.
            metrics.DatabaseFailed(ex);
            if (_unavailable.IsDue("database " + typeof(TRequest).Name))
            {
                LogDatabaseOutage(logger, typeof(TRequest).Name, ex.GetType().Name,
                    (ex as System.Data.Common.DbException)?.SqlState ?? "none");
            }

            throw;
        }
        catch (Exception ex) when (!IsExpected(ex, cancellationToken))
        {
            // The request is not logged: it may hold prompts or passwords.
            metrics.DatabaseFailed(ex);
            LogUnhandled(logger, typeof(TRequest).Name, ex);
            LoggedFaults.Note(ex);
            throw;
        }
    }

    private static bool IsExpected(Exception ex, CancellationToken cancellationToken) =>
        ex is FluentValidation.ValidationException or DomainException or NotFoundException or ConflictException
            or UnauthenticatedException or RateLimitedException or Admin.AdminOnlyException
        || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception in {RequestName}")]
    private static partial void LogUnhandled(ILogger logger, string requestName, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{RequestName} met a database outage ({ExceptionType}, SQLSTATE {SqlState}); the caller is told to try again (logged at most once a minute while it lasts)")]
    private static partial void LogDatabaseOutage(ILogger logger, string requestName, string exceptionType, string sqlState);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{RequestName} refused: {Reason} (logged at most once a minute while it lasts)")]
    private static partial void LogUnavailable(ILogger logger, string requestName, string reason);
}

/// <summary>When each kind of request last logged that it was refused as unavailable: at most once a minute each.</summary>
public sealed class UnavailableLog
{
    private static readonly long Every = (long)TimeSpan.FromMinutes(1).TotalMilliseconds;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _loggedAt = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="requestName"/> logs now; true once a minute at most (and the first time).</summary>
    public bool IsDue(string requestName)
    {
        var now = Environment.TickCount64;
        while (true)
        {
            if (!_loggedAt.TryGetValue(requestName, out var last))
            {
                if (_loggedAt.TryAdd(requestName, now))
                {
                    return true;
                }

                continue;
            }

            if (now - last < Every)
            {
                return false;
            }

            if (_loggedAt.TryUpdate(requestName, now, last))
            {
                return true;
            }
        }
    }
}

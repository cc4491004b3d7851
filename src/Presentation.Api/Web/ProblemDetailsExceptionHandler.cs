using System.Data.Common;
using System.Text.Json;
using FluentValidation;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// The one place where exceptions become HTTP answers: expected failures get a 4xx ProblemDetails that names the
/// field; anything else a 500 without internals.
/// </summary>
public sealed class ProblemDetailsExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (OpenAi.OpenAiErrors.Serves(httpContext))
        {
            await OpenAi.OpenAiErrors.WriteAsync(httpContext, exception);
            return true;
        }

        var problem = Describe(exception);
        if (exception is RateLimitedException limited)
        {
            httpContext.Response.Headers.RetryAfter =
                Math.Max(1, (int)Math.Ceiling(limited.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (exception is ServiceUnavailableException { RetryAfter: { } retryAfter })
        {
            httpContext.Response.Headers.RetryAfter =
                Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (IsDatabaseOutage(exception))
        {
            httpContext.Response.Headers.RetryAfter = DatabaseRetryAfterSeconds;
        }

        httpContext.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        if (await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = problem,
                Exception = exception,
            }))
        {
            return true;
        }

        // The writers decline a client that accepts no JSON (an event stream asks for text/event-stream): it still
        // gets the ProblemDetails, rather than a bare status that says nothing.
        await httpContext.Response.WriteAsJsonAsync(problem, (System.Text.Json.JsonSerializerOptions?)null,
            "application/problem+json", cancellationToken);
        return true;
    }

    public static ProblemDetails Describe(Exception exception) => exception switch
    {
        ValidationException validation => Validation(validation.Errors
            .GroupBy(e => e.PropertyName is { Length: > 0 } name ? Camel(name) : "request")
            .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray())),
        DomainException domain => Domain(domain),
        NotFoundException notFound => WithField(
            Problem(StatusCodes.Status404NotFound, "Not found", notFound.Message), notFound.Field, notFound.Message),
        ConflictException conflict => WithField(
            Problem(StatusCodes.Status409Conflict, "Conflict", conflict.Message), conflict.Field, conflict.Message),
        Application.Admin.AdminOnlyException =>
            Problem(StatusCodes.Status403Forbidden, "Forbidden", Application.Admin.AdminOnlyException.Message),
        UnauthenticatedException unauthenticated =>
            Problem(StatusCodes.Status401Unauthorized, "Unauthorized", unauthenticated.Message),
        RateLimitedException limited => Problem(StatusCodes.Status429TooManyRequests, "Too many requests", limited.Message),
        ServiceUnavailableException unavailable =>
            Problem(StatusCodes.Status503ServiceUnavailable, "Service unavailable", unavailable.Message),
        BadHttpRequestException bad => BadRequest(bad),
        _ when IsDatabaseOutage(exception) => Problem(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
            "The database cannot be reached for a moment; nothing was changed. Please try again shortly."),
        _ => Problem(StatusCodes.Status500InternalServerError, "Server error",
            "Something went wrong on our side. It has been logged; please try again."),
    };

    private const string DatabaseRetryAfterSeconds = "2";

    /// <summary>Whether the exception is answered 500: a fault of ours, not a failure the caller is told about.</summary>
    public static bool IsFault(HttpContext context, Exception exception) =>
        (OpenAi.OpenAiErrors.Serves(context)
            ? OpenAi.OpenAiErrors.Describe(exception).Status
            : Describe(exception).Status ?? StatusCodes.Status500InternalServerError) == StatusCodes.Status500InternalServerError;

    /// <summary>
    /// A database that is restarting, failing over or out of connections: the request can simply be sent again, so it
    /// is a 503 with Retry-After rather than a 500. A transaction cut short this way was rolled back.
    /// </summary>
    public static bool IsDatabaseOutage(Exception exception) => DatabaseFailures.IsOutage(exception);

    private static ProblemDetails Domain(DomainException domain)
    {
        var (status, title) = domain.Kind switch
        {
            DomainErrorKind.Invalid => (StatusCodes.Status400BadRequest, "Invalid request"),
            DomainErrorKind.TooLarge => (StatusCodes.Status413PayloadTooLarge, "Too large"),
            DomainErrorKind.Forbidden => (StatusCodes.Status403Forbidden, "Forbidden"),
            DomainErrorKind.NotFound => (StatusCodes.Status404NotFound, "Not found"),
            _ => (StatusCodes.Status409Conflict, "Conflict"),
        };
        return domain.Kind == DomainErrorKind.Invalid && domain.Field is { } field
            ? Validation(new Dictionary<string, string[]> { [field] = [domain.Message] })
            : WithField(Problem(status, title, domain.Message), domain.Field, domain.Message);
    }

    private static ProblemDetails BadRequest(BadHttpRequestException bad)
    {
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Too large", "The request body is too large.");
        }

        // A body that is not JSON, or a field of the wrong type: name the field when the parser tells us which.
        if (bad.InnerException is JsonException json)
        {
            var field = json.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            return field is null
                ? Problem(StatusCodes.Status400BadRequest, "Invalid request", "The body is not valid JSON.")
                : Validation(new Dictionary<string, string[]> { [field] = [$"'{field}' has the wrong type or format."] });
        }

        return Problem(bad.StatusCode, "Invalid request", bad.Message);
    }

    private static ValidationProblemDetails Validation(IDictionary<string, string[]> errors) =>
        new(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Invalid request",
            Detail = string.Join(" ", errors.SelectMany(e => e.Value)),
        };

    private static ProblemDetails WithField(ProblemDetails problem, string? field, string message)
    {
        if (field is not null)
        {
            problem.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [message] };
        }

        return problem;
    }

    private static ProblemDetails Problem(int status, string title, string detail) =>
        new() { Status = status, Title = title, Detail = detail };

    private static string Camel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];
}

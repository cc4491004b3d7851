using System.Globalization;
using System.Text.Json;
using FluentValidation;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// Errors under <c>/v1</c> in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, with the status codes
/// its SDKs turn into their error classes (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429
/// RateLimitError, 503 InternalServerError, which they retry after <c>Retry-After</c>). The status and message are the
/// ones the rest of the API gives for the same failure (<see cref="ProblemDetailsExceptionHandler.Describe"/>).
/// </summary>
public static class OpenAiErrors
{
    public static bool Serves(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal);

    public static Task WriteAsync(HttpContext context, Exception exception)
    {
        var error = Describe(exception);
        if (error.RetryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter =
                Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(ToJson(error), context.RequestAborted).AsTask();
    }

    /// <summary>The error as one JSON document: the body of an error answer, or one event of a stream.</summary>
    public static byte[] ToJson(OpenAiError error)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("message", error.Message);
            json.WriteString("type", error.Type);
            json.WriteString("param", error.Param);
            json.WriteString("code", error.Code);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static OpenAiError Describe(Exception exception)
    {
        if (exception is ChatCompletionRequest.Refused refused)
        {
            return new OpenAiError(refused.Status, refused.Message, refused.Param,
                refused.Status == StatusCodes.Status404NotFound ? "unknown_url" : null);
        }

        var problem = ProblemDetailsExceptionHandler.Describe(exception);
        var status = problem.Status ?? StatusCodes.Status500InternalServerError;
        var message = problem.Detail ?? problem.Title ?? "The request failed.";
        var param = exception switch
        {
            DomainException { Field: { } field } => Param(field),
            ValidationException validation => validation.Errors.Select(e => Param(e.PropertyName)).FirstOrDefault(),
            NotFoundException { Field: { } field } => field,
            ConflictException { Field: { } field } => Param(field),
            _ => null,
        };
        var (code, retryAfter) = exception switch
        {
            RateLimitedException limited => ("rate_limit_exceeded", limited.RetryAfter),
            ServiceUnavailableException unavailable => ("model_unavailable", unavailable.RetryAfter),
            NotFoundException { Field: "model" } => ("model_not_found", (TimeSpan?)null),
            UnauthenticatedException => ("invalid_api_key", null),
            _ when ProblemDetailsExceptionHandler.IsDatabaseOutage(exception) => ("service_unavailable",
                TimeSpan.FromSeconds(2)),
            _ => (null, null),
        };
        return new OpenAiError(status, message, param, code, retryAfter);
    }

    /// <summary>The platform's field names as OpenAI's parameters.</summary>
    private static string? Param(string? field) => field switch
    {
        null or "" => null,
        "topP" or "TopP" => "top_p",
        "maxTokens" or "MaxTokens" => "max_tokens",
        "temperature" or "Temperature" => "temperature",
        "content" or "Content" => "messages",
        "model" or "Model" => "model",
        _ => field,
    };
}

/// <param name="Status">The HTTP status.</param>
/// <param name="Message">Safe to show: it says what to change or when to try again.</param>
/// <param name="Param">The request parameter it is about, when there is one.</param>
/// <param name="Code">A machine-readable reason, when there is one.</param>
/// <param name="RetryAfter">When to try again (429 and 503).</param>
public sealed record OpenAiError(int Status, string Message, string? Param, string? Code, TimeSpan? RetryAfter = null)
{
    /// <summary>OpenAI's error type for the status.</summary>
    public string Type => Status switch
    {
        StatusCodes.Status401Unauthorized => "authentication_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status429TooManyRequests => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };
}

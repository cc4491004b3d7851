namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// The errors <see cref="Web.ProblemDetailsExceptionHandler"/> (and the CSRF check) answer with, declared on a group so
/// the OpenAPI document lists each as a ProblemDetails without every handler repeating them.
/// </summary>
internal static class ProblemResponses
{
    /// <summary>What any call can meet: a bad body, the rate limit, a database away for a moment.</summary>
    private static readonly int[] Always =
        [StatusCodes.Status400BadRequest, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable];

    /// <summary>What a call that needs a signed-in caller can meet besides: no credential, no CSRF token.</summary>
    private static readonly int[] SignedIn = [StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden];

    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in Always.Concat(statuses).Distinct())
        {
            builder.ProducesProblem(status);
        }

        return builder;
    }

    /// <summary>The problems of a signed-in call, plus <paramref name="statuses"/> (e.g. 404 for a chat not the caller's).</summary>
    public static TBuilder ProducesSignedInProblems<TBuilder>(this TBuilder builder, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder =>
        builder.ProducesProblems([.. SignedIn, .. statuses]);
}

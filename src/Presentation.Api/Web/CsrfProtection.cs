using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Mvc;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Cross-site request forgery protection for browsers (double-submit token). A page gets a random token in a cookie
/// its own script can read; every state-changing API call that rides on the session cookie must repeat it in the
/// <c>X-CSRF-Token</c> header, which another site can neither read nor set. Calls with an <c>Authorization: Bearer</c>
/// header (access tokens, API keys) carry no ambient credential and are not affected; any other <c>Authorization</c>
/// (Basic, which a browser may add by itself) changes nothing. As a second line, an unsafe call or a WebSocket
/// handshake whose <c>Origin</c> names another site is refused.
/// </summary>
public static class CsrfProtection
{
    public const string CookieName = "meatlizard.csrf";
    public const string HeaderName = "X-CSRF-Token";

    public static WebApplication UseCsrfProtection(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            var hasSession = request.Cookies.ContainsKey(Authentication.CookieName);
            var token = request.Cookies[CookieName];
            if (string.IsNullOrEmpty(token) && (hasSession || !IsApi(request)))
            {
                IssueToken(context);
            }

            if (Refusal(context, hasSession, token) is { } reason)
            {
                await RefuseAsync(context, reason);
                return;
            }

            await next(context);
        });
        return app;
    }

    /// <summary>
    /// The REST API and OpenAI's <c>/v1</c>: their answers carry no new token (a program has no page that would read
    /// it) unless the caller already holds a session cookie.
    /// </summary>
    private static bool IsApi(HttpRequest request) =>
        request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        || request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the request is refused, or null when it may go on.</summary>
    private static string? Refusal(HttpContext context, bool hasSession, string? token)
    {
        var request = context.Request;
        if (!request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
            || request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var unsafeMethod = !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)
                             || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method));
        var upgrade = context.WebSockets.IsWebSocketRequest;
        if ((unsafeMethod || upgrade) && IsCrossOrigin(request))
        {
            return "This request came from another site and was refused.";
        }

        if (!unsafeMethod || !hasSession)
        {
            return null;
        }

        var sent = request.Headers[HeaderName].ToString();
        return string.IsNullOrEmpty(token) || !FixedTimeEquals(sent, token)
            ? "The request is missing its security token. Reload the page and try again."
            : null;
    }

    private static bool IsCrossOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return false;
        }

        return !Uri.TryCreate(origin, UriKind.Absolute, out var uri)
               || !string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)
               || !string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase);
    }

    private static void IssueToken(HttpContext context)
    {
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        context.Response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = false, // the page's script reads it to echo it in the header
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            IsEssential = true,
        });
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static Task RefuseAsync(HttpContext context, string detail)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return context.Response.WriteAsJsonAsync(
            new ProblemDetails { Status = StatusCodes.Status403Forbidden, Title = "Forbidden", Detail = detail },
            options: null, contentType: "application/problem+json", cancellationToken: context.RequestAborted);
    }
}

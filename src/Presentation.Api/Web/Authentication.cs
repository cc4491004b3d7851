using System.Security.Claims;
using System.Text.Encodings.Web;
using MediatR;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Common.Models;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.DataProtection;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// Three ways in: a session cookie (browsers), a bearer access token from login, and API keys
/// (<c>Authorization: Bearer ml_…</c>). One policy scheme picks the right one per request.
/// </summary>
public static class Authentication
{
    public const string Scheme = "MeatLizard";
    public const string ApiKeyScheme = "ApiKey";
    public const string CookieName = "meatlizard.session";
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromHours(12);

    /// <param name="services">The services.</param>
    /// <param name="configuration">The host's configuration (DataProtection:KeyFile).</param>
    /// <param name="settings">Where the data-protection keys live (<see cref="DataProtectionRegistration"/>).</param>
    public static IServiceCollection AddMeatLizardAuthentication(this IServiceCollection services,
        IConfiguration configuration, InfrastructureSettings settings)
    {
        services.AddMeatLizardDataProtection(configuration, settings);

        services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "Cookie, bearer token or API key", options =>
                options.ForwardDefaultSelector = SelectScheme)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, options =>
            {
                options.Cookie.Name = CookieName;
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.ExpireTimeSpan = CookieLifetime;
                options.SlidingExpiration = true;

                // An API answers 401/403; it never redirects to a login page.
                options.Events.OnRedirectToLogin = context => Status(context.Response, StatusCodes.Status401Unauthorized);
                options.Events.OnRedirectToAccessDenied = context => Status(context.Response, StatusCodes.Status403Forbidden);
            })
            .AddBearerToken(BearerTokenDefaults.AuthenticationScheme, options =>
            {
                options.BearerTokenExpiration = TokenLifetime;
                options.Events.OnMessageReceived = context =>
                {
                    // Browsers cannot set headers on a WebSocket: the stream endpoint also takes ?access_token=.
                    if (context.Request.Path.Value?.EndsWith("/stream", StringComparison.Ordinal) == true
                        && context.Request.Query.TryGetValue("access_token", out var token))
                    {
                        context.Token = token;
                    }

                    return Task.CompletedTask;
                };
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyScheme, null);
        services.AddOptions<BearerTokenOptions>(BearerTokenDefaults.AuthenticationScheme)
            .PostConfigure<TimeProvider>((options, time) =>
                options.BearerTokenProtector = new ReusedTicketFormat(options.BearerTokenProtector, time));
        services.TryAddSingleton(TimeProvider.System);
        services.AddAuthorization();
        return services;
    }

    /// <summary>
    /// The longest a sign-in credential can stay valid: the session cookie's lifetime (it slides, so counted from its
    /// last use) and the access token's, whichever is longer. An ended session is remembered this long.
    /// </summary>
    public static readonly TimeSpan CookieLifetime = TimeSpan.FromDays(14);

    public static TimeSpan LongestCredentialLifetime => CookieLifetime > TokenLifetime ? CookieLifetime : TokenLifetime;

    /// <summary>An API key's principal: its user, and the key, so an open stream can tell when the key is revoked.</summary>
    public static ClaimsPrincipal PrincipalFor(UserDto user, string scheme, Guid apiKeyId) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, user.Id.ToString()),
                new Claim(ClaimTypes.Name, user.Username),
                new Claim(ClaimTypes.Role, user.Role),
                new Claim(SignInCredential.ApiKeyClaim, apiKeyId.ToString()),
            ],
            scheme));

    /// <summary>
    /// A sign-in's principal (cookie or access token): its user, the user's security stamp and the sign-in session,
    /// checked on every request (<see cref="SignInValidation"/>).
    /// </summary>
    public static ClaimsPrincipal PrincipalFor(UserDto user, string scheme, string sessionId) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, user.Id.ToString()),
                new Claim(ClaimTypes.Name, user.Username),
                new Claim(ClaimTypes.Role, user.Role),
                new Claim(SignInCredential.SecurityStampClaim, user.SecurityStamp),
                new Claim(SignInCredential.SessionClaim, sessionId),
            ],
            scheme));

    /// <summary>A new sign-in session's id, shared by the cookie and the access token one sign-in issues.</summary>
    public static string NewSessionId() => Guid.NewGuid().ToString("N");

    /// <summary>Issues an access token the bearer scheme accepts (protected with the host's data-protection keys).</summary>
    public static string IssueAccessToken(HttpContext context, UserDto user, string sessionId)
    {
        var options = context.RequestServices.GetRequiredService<IOptionsMonitor<BearerTokenOptions>>()
            .Get(BearerTokenDefaults.AuthenticationScheme);
        var properties = new AuthenticationProperties { ExpiresUtc = DateTimeOffset.UtcNow + options.BearerTokenExpiration };
        var ticket = new AuthenticationTicket(PrincipalFor(user, BearerTokenDefaults.AuthenticationScheme, sessionId),
            properties, $"{BearerTokenDefaults.AuthenticationScheme}:AccessToken");
        return options.BearerTokenProtector.Protect(ticket);
    }

    /// <summary>
    /// The scheme for a request: its <c>Authorization: Bearer</c> credential when it has one; else, on <c>/v1</c>,
    /// nothing (the OpenAI API is for programs: a page of another site cannot ride on the browser's cookie there); else
    /// the <c>access_token</c> of a WebSocket that cannot set headers, or the session cookie.
    /// </summary>
    private static string SelectScheme(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return ApiKeyFormat.LooksLikeKey(authorization["Bearer ".Length..].Trim())
                ? ApiKeyScheme
                : BearerTokenDefaults.AuthenticationScheme;
        }

        if (context.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase))
        {
            return ApiKeyScheme; // with no key in the header, it authenticates no one
        }

        return context.Request.Query.ContainsKey("access_token")
            ? BearerTokenDefaults.AuthenticationScheme
            : CookieAuthenticationDefaults.AuthenticationScheme;
    }

    private static Task Status(HttpResponse response, int status)
    {
        response.StatusCode = status;
        return Task.CompletedTask;
    }
}

/// <summary>Authenticates <c>Authorization: Bearer ml_…</c> API keys.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IMediator mediator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var key = authorization["Bearer ".Length..].Trim();
        var authenticated = await mediator.Send(new AuthenticateApiKey(key), Context.RequestAborted);
        return authenticated is null
            ? AuthenticateResult.Fail("Unknown or revoked API key.")
            : AuthenticateResult.Success(new AuthenticationTicket(
                Authentication.PrincipalFor(authenticated.User, Scheme.Name, authenticated.KeyId), Scheme.Name));
    }
}

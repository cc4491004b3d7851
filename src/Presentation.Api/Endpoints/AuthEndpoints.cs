using MediatR;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Auth.Queries;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record CredentialsRequest(string? Username, string? Password);

public sealed record AccessTokenResponse(string AccessToken, string TokenType, int ExpiresIn, Guid UserId, string Username);

public sealed record CreateApiKeyRequest(string? Name);

public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

public static class AuthEndpoints
{
    public static RouteGroupBuilder MapAuthEndpoints(this RouteGroupBuilder api)
    {
        var auth = api.MapGroup("/auth").WithTags("Auth");
        auth.MapPost("/register", Register).AllowAnonymous();
        auth.MapPost("/login", LogIn).AllowAnonymous();
        auth.MapPost("/logout", LogOut).AllowAnonymous();
        auth.MapGet("/me", Me).RequireAuthorization();
        auth.MapPost("/password", ChangePassword).RequireAuthorization();

        var keys = auth.MapGroup("/api-keys").RequireAuthorization();
        keys.MapPost("/", (CreateApiKeyRequest body, IMediator mediator, CancellationToken ct) =>
            CreatedAsync(mediator.Send(new CreateApiKey(body.Name), ct)));
        keys.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            Results.Ok(await mediator.Send(new ListApiKeys(), ct)));
        keys.MapDelete("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new RevokeApiKey(id), ct);
            return Results.NoContent();
        });
        return api;
    }

    private static async Task<IResult> Register(CredentialsRequest body, IMediator mediator, CancellationToken ct)
    {
        var user = await mediator.Send(new RegisterUser(body.Username, body.Password), ct);
        return Results.Created($"/api/v1/auth/me", new { user.Id, user.Username });
    }

    /// <summary>Answers with an access token for programs and sets the session cookie for browsers.</summary>
    private static async Task<IResult> LogIn(CredentialsRequest body, IMediator mediator, HttpContext context, CancellationToken ct)
    {
        var user = await mediator.Send(new LogIn(body.Username, body.Password), ct);
        return await SignInAsync(context, user);
    }

    /// <summary>
    /// One sign-in session: the cookie and the access token share its id, so a logout with either ends both.
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext context, Application.Common.Models.UserDto user)
    {
        var sessionId = Authentication.NewSessionId();
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            Authentication.PrincipalFor(user, CookieAuthenticationDefaults.AuthenticationScheme, sessionId));
        var token = Authentication.IssueAccessToken(context, user, sessionId);
        return Results.Ok(new AccessTokenResponse(token, "Bearer", (int)Authentication.TokenLifetime.TotalSeconds,
            user.Id, user.Username));
    }

    /// <summary>
    /// Ends the sign-in session the call was made with (cookie or access token, at every instance); the user's other
    /// sign-ins stay. Without a live sign-in it only clears the cookie.
    /// </summary>
    private static async Task<IResult> LogOut(HttpContext context, IMediator mediator, CancellationToken ct)
    {
        if (SignInCredential.Of(context.User) is { IsApiKey: false, SessionId: { } sessionId })
        {
            await mediator.Send(new EndSignInSession(sessionId,
                DateTimeOffset.UtcNow + Authentication.LongestCredentialLifetime), ct);
        }

        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Results.NoContent();
    }

    /// <summary>Every session of the user ends; the caller gets a new one (token and cookie), as at login.</summary>
    private static async Task<IResult> ChangePassword(ChangePasswordRequest body, IMediator mediator, HttpContext context,
        CancellationToken ct)
    {
        var user = await mediator.Send(new ChangePassword(body.CurrentPassword, body.NewPassword), ct);
        return await SignInAsync(context, user);
    }

    private static IResult Me(HttpContext context) => Results.Ok(new
    {
        Id = context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value,
        Username = context.User.Identity?.Name,
        Role = context.User.FindFirst(System.Security.Claims.ClaimTypes.Role)?.Value,
    });

    private static async Task<IResult> CreatedAsync(Task<CreatedApiKeyDto> creating)
    {
        var key = await creating;
        return Results.Created($"/api/v1/auth/api-keys/{key.Id}", key);
    }
}

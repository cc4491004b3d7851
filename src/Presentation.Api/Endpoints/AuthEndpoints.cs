using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.Channels.Queries;
using MediatR;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Auth.Queries;
using MeatLizard.Application.Common.Models;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record CredentialsRequest(string? Username, string? Password);

/// <param name="InviteCode">The code of an admin's invite link, when registration is by invitation.</param>
/// <param name="SetupToken">The token of the setup link the API host prints while there is no admin: registers the first admin.</param>
public sealed record RegisterRequest(string? Username, string? Password, string? InviteCode = null, string? SetupToken = null);

public sealed record AccessTokenResponse(string AccessToken, string TokenType, int ExpiresIn, Guid UserId, string Username);

public sealed record CreateApiKeyRequest(string? Name);

/// <param name="KeepApiKeys">Keep the account's API keys working (by default a password change revokes them all).</param>
/// <param name="KeepLinkedAccounts">
/// Keep the Discord and Telegram accounts linked to this one (by default a password change unlinks them all).
/// </param>
public sealed record ChangePasswordRequest(
    string? CurrentPassword, string? NewPassword, bool? KeepApiKeys = null, bool? KeepLinkedAccounts = null);

/// <param name="Password">The account's password, typed again to confirm.</param>
public sealed record DeleteAccountRequest(string? Password);

/// <param name="DefaultModel">The model new chats use when they name none (empty: the platform's default).</param>
/// <param name="SystemPrompt">The system prompt new chats start with when they name none (empty: none).</param>
public sealed record PreferencesRequest(string? DefaultModel, string? SystemPrompt);

/// <param name="Code">The code of the password reset link an admin made.</param>
/// <param name="NewPassword">The account's new password.</param>
public sealed record PasswordResetRequest(string? Code, string? NewPassword);

/// <summary>The account whose password was set, to sign in with.</summary>
public sealed record PasswordResetResponse(string Username);

/// <summary>The account a registration created.</summary>
/// <param name="AwaitingApproval">It cannot sign in until an admin approves it (registration policy Approval).</param>
public sealed record RegisteredUserResponse(Guid Id, string Username, string Role, bool AwaitingApproval);

/// <summary>Who the caller is, as its credential says.</summary>
public sealed record MeResponse(string? Id, string? Username, string? Role);

public static class AuthEndpoints
{
    public static RouteGroupBuilder MapAuthEndpoints(this RouteGroupBuilder api)
    {
        var auth = api.MapGroup("/auth").WithTags("Auth");
        auth.MapPost("/register", Register).AllowAnonymous()
            .ProducesProblems(StatusCodes.Status403Forbidden, StatusCodes.Status409Conflict);
        // Who may register, for the sign-in page (before anyone signs in).
        auth.MapGet("/registration", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new GetRegistration(), ct))).AllowAnonymous().ProducesProblems();
        auth.MapPost("/login", LogIn).AllowAnonymous().ProducesProblems(StatusCodes.Status401Unauthorized);
        auth.MapPost("/logout", LogOut).AllowAnonymous().ProducesProblems(StatusCodes.Status403Forbidden);
        // Every sign-in of the user ends (each browser, every access token, this one too); API keys stay.
        auth.MapPost("/logout-everywhere", LogOutEverywhere).RequireAuthorization().ProducesSignedInProblems();
        auth.MapGet("/me", Me).RequireAuthorization().ProducesSignedInProblems();
        auth.MapPost("/password", ChangePassword).RequireAuthorization().ProducesSignedInProblems();
        // Signed out: a new password with the code of an admin's password reset link; every sign-in of the account ends.
        auth.MapPost("/password-reset", async (PasswordResetRequest body, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(new PasswordResetResponse(await mediator.Send(new ResetPassword(body.Code, body.NewPassword), ct))))
            .AllowAnonymous().ProducesProblems();
        // All of the caller's data as one JSON file: the account, API keys, linked accounts, every chat and message.
        auth.MapGet("/export", ExportAsync).RequireAuthorization().ProducesSignedInProblems();
        // The account and everything of it, for good; every sign-in and API key of it stops working at once.
        auth.MapDelete("/account", DeleteAccountAsync).RequireAuthorization().ProducesSignedInProblems(StatusCodes.Status409Conflict);
        // The caller's defaults for the chats they start: a model and a system prompt.
        auth.MapGet("/preferences", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new GetPreferences(), ct))).RequireAuthorization().ProducesSignedInProblems();
        auth.MapPut("/preferences", async (PreferencesRequest body, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new UpdatePreferences(body.DefaultModel, body.SystemPrompt), ct)))
            .RequireAuthorization().ProducesSignedInProblems();

        var keys = auth.MapGroup("/api-keys").RequireAuthorization().ProducesSignedInProblems();
        keys.MapPost("/", async (CreateApiKeyRequest body, IMediator mediator, CancellationToken ct) =>
        {
            var key = await mediator.Send(new CreateApiKey(body.Name), ct);
            return TypedResults.Created($"/api/v1/auth/api-keys/{key.Id}", key);
        });
        keys.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListApiKeys(), ct)));
        keys.MapDelete("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new RevokeApiKey(id), ct);
            return TypedResults.NoContent();
        }).ProducesProblem(StatusCodes.Status404NotFound);

        // A one-time code the caller types as /link code:… in Discord (or Telegram) to attach that account to this one.
        auth.MapPost("/link-codes", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new CreateLinkCode(), ct))).RequireAuthorization().ProducesSignedInProblems();

        // The Discord and Telegram accounts linked so, and ending a link.
        var linked = auth.MapGroup("/linked-accounts").RequireAuthorization().ProducesSignedInProblems();
        linked.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListLinkedAccounts(), ct)));
        linked.MapDelete("/{network}/{externalId}", async (string network, string externalId, IMediator mediator,
            CancellationToken ct) =>
        {
            await mediator.Send(new UnlinkAccount(network, externalId), ct);
            return TypedResults.NoContent();
        }).ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Created<RegisteredUserResponse>> Register(RegisterRequest body, IMediator mediator,
        CancellationToken ct)
    {
        var user = await mediator.Send(new RegisterUser(body.Username, body.Password, body.InviteCode, body.SetupToken), ct);
        return TypedResults.Created("/api/v1/auth/me",
            new RegisteredUserResponse(user.Id, user.Username, user.Role, user.AwaitingApproval));
    }

    /// <summary>Answers with an access token for programs and sets the session cookie for browsers.</summary>
    private static async Task<Ok<AccessTokenResponse>> LogIn(CredentialsRequest body, IMediator mediator, HttpContext context, CancellationToken ct)
    {
        var user = await mediator.Send(new LogIn(body.Username, body.Password), ct);
        return await SignInAsync(context, user);
    }

    /// <summary>
    /// One sign-in session: the cookie and the access token share its id, so a logout with either ends both.
    /// </summary>
    private static async Task<Ok<AccessTokenResponse>> SignInAsync(HttpContext context, UserDto user)
    {
        var sessionId = Authentication.NewSessionId();
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            Authentication.PrincipalFor(user, CookieAuthenticationDefaults.AuthenticationScheme, sessionId));
        var token = Authentication.IssueAccessToken(context, user, sessionId);
        return TypedResults.Ok(new AccessTokenResponse(token, "Bearer", (int)Authentication.TokenLifetime.TotalSeconds,
            user.Id, user.Username));
    }

    /// <summary>
    /// Ends the sign-in session the call was made with (cookie or access token, at every instance); the user's other
    /// sign-ins stay. Without a live sign-in it only clears the cookie.
    /// </summary>
    private static async Task<NoContent> LogOut(HttpContext context, IMediator mediator, CancellationToken ct)
    {
        if (SignInCredential.Of(context.User) is { IsApiKey: false, SessionId: { } sessionId })
        {
            await mediator.Send(new EndSignInSession(sessionId,
                DateTimeOffset.UtcNow + Authentication.LongestCredentialLifetime), ct);
        }

        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    /// <summary>Every chat's current path; with <c>?all=true</c> every message of each chat's tree.</summary>
    private static async Task<Ok<MyDataExport>> ExportAsync(HttpContext context, bool? all, IMediator mediator,
        CancellationToken ct)
    {
        var export = await mediator.Send(new ExportMyData(all == true), ct);
        var day = export.ExportedAt.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        // A member's user may have been named from a chat network; the file name keeps only plain characters.
        var name = string.Concat(export.Account.Username.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"meatlizard-{name}-{day}.json\"";
        return TypedResults.Ok(export);
    }

    private static async Task<NoContent> DeleteAccountAsync([Microsoft.AspNetCore.Mvc.FromBody] DeleteAccountRequest body, HttpContext context,
        IMediator mediator, CancellationToken ct)
    {
        await mediator.Send(new DeleteMyAccount(body.Password), ct);
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> LogOutEverywhere(HttpContext context, IMediator mediator, CancellationToken ct)
    {
        await mediator.Send(new EndEverySignIn(), ct);
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    /// <summary>Every session of the user ends; the caller gets a new one (token and cookie), as at login.</summary>
    private static async Task<Ok<AccessTokenResponse>> ChangePassword(ChangePasswordRequest body, IMediator mediator, HttpContext context,
        CancellationToken ct)
    {
        var user = await mediator.Send(new ChangePassword(body.CurrentPassword, body.NewPassword, body.KeepApiKeys ?? false,
            body.KeepLinkedAccounts ?? false), ct);
        return await SignInAsync(context, user);
    }

    private static Ok<MeResponse> Me(HttpContext context) => TypedResults.Ok(new MeResponse(
        context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value,
        context.User.Identity?.Name,
        context.User.FindFirst(System.Security.Claims.ClaimTypes.Role)?.Value));
}

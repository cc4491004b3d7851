using System.Security.Claims;
using MeatLizard.Application.Auth;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// What a credential says about itself beyond who it is: cookies and access tokens carry the user's security stamp
/// and the sign-in session they belong to; an API key principal carries the key's id.
/// </summary>
public sealed record SignInCredential(Guid UserId, string? SecurityStamp, string? SessionId, Guid? ApiKeyId)
{
    public const string SecurityStampClaim = "ml:stamp";
    public const string SessionClaim = "ml:sid";
    public const string ApiKeyClaim = "ml:key";

    public bool IsApiKey => ApiKeyId is not null;

    /// <summary>The credential of an authenticated principal; null when anonymous.</summary>
    public static SignInCredential? Of(ClaimsPrincipal principal)
    {
        if (principal.Identity?.IsAuthenticated != true
            || !Guid.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var userId))
        {
            return null;
        }

        return new SignInCredential(userId, principal.FindFirstValue(SecurityStampClaim),
            principal.FindFirstValue(SessionClaim),
            Guid.TryParse(principal.FindFirstValue(ApiKeyClaim), out var keyId) ? keyId : null);
    }

    /// <summary>
    /// Whether it still stands: a cookie or token whose stamp changed (ban, password change) or whose session was
    /// ended (logout) does not, nor one issued before stamps existed; an API key must still be active.
    /// </summary>
    public Task<bool> IsCurrentAsync(SignInCheck check, CancellationToken cancellationToken) =>
        ApiKeyId is { } keyId
            ? check.IsApiKeyCurrentAsync(UserId, keyId, cancellationToken)
            : check.IsCurrentAsync(UserId, SecurityStamp, SessionId, cancellationToken);
}

public static class SignInValidation
{
    /// <summary>
    /// After authentication: a cookie or access token that no longer stands is treated as no credential at all
    /// (401 where one is needed), and a dead session cookie is deleted. API keys are checked by their own handler.
    /// </summary>
    public static WebApplication UseSignInValidation(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (SignInCredential.Of(context.User) is { IsApiKey: false } credential
                && !await credential.IsCurrentAsync(
                    context.RequestServices.GetRequiredService<SignInCheck>(), context.RequestAborted))
            {
                context.User = new ClaimsPrincipal(new ClaimsIdentity());
                if (context.Request.Cookies.ContainsKey(Authentication.CookieName))
                {
                    context.Response.Cookies.Delete(Authentication.CookieName);
                }
            }

            await next(context);
        });
        return app;
    }
}

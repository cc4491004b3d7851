using System.Security.Claims;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace MeatLizard.Api.Tests;

public class HttpCurrentUserTests
{
    [Test]
    public void TheCaller_IsReadAgain_WhenAuthenticationReplacesTheRequestsPrincipal()
    {
        var context = new DefaultHttpContext();
        var caller = new HttpCurrentUser(new HttpContextAccessor { HttpContext = context },
            Options.Create(new RateLimitOptions()));
        var alice = Guid.NewGuid();
        var bob = Guid.NewGuid();

        var beforeSignIn = (caller.Id, caller.ByApiKey);
        context.User = Principal(alice, apiKey: null);
        var signedIn = (caller.Id, caller.ByApiKey);
        var askedAgain = (caller.Id, caller.ByApiKey);
        context.User = Principal(bob, apiKey: Guid.NewGuid());
        var byKey = (caller.Id, caller.ByApiKey);

        Assert.Multiple(() =>
        {
            Assert.That(beforeSignIn, Is.EqualTo(((UserId?)null, false)));
            Assert.That(signedIn, Is.EqualTo(((UserId?)new UserId(alice), false)));
            Assert.That(askedAgain, Is.EqualTo(signedIn));
            Assert.That(byKey, Is.EqualTo(((UserId?)new UserId(bob), true)));
        });
    }

    private static ClaimsPrincipal Principal(Guid user, Guid? apiKey)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, user.ToString()) };
        if (apiKey is { } key)
        {
            claims.Add(new Claim(SignInCredential.ApiKeyClaim, key.ToString()));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "test"));
    }
}

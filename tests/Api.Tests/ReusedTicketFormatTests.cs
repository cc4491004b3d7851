using System.Security.Claims;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Authentication;
using Moq;

namespace MeatLizard.Api.Tests;

public class ReusedTicketFormatTests
{
    private Mock<ISecureDataFormat<AuthenticationTicket>> _inner = null!;
    private SteppedTime _time = null!;
    private ReusedTicketFormat _format = null!;

    [SetUp]
    public void SetUp()
    {
        _inner = new Mock<ISecureDataFormat<AuthenticationTicket>>();
        _inner.Setup(f => f.Unprotect("good")).Returns(() => Ticket("alice"));
        _inner.Setup(f => f.Unprotect("bad")).Returns((AuthenticationTicket?)null);
        _time = new SteppedTime();
        _format = new ReusedTicketFormat(_inner.Object, _time);
    }

    [Test]
    public void TheSameToken_IsOpenedOnce_AndEveryCallerGetsItsOwnCopy()
    {
        var first = _format.Unprotect("good")!;
        ((ClaimsIdentity)first.Principal.Identity!).AddClaim(new Claim("added", "by the first request"));
        first.Properties.Items["changed"] = "by the first request";
        var second = _format.Unprotect("good")!;

        Assert.Multiple(() =>
        {
            _inner.Verify(f => f.Unprotect("good"), Times.Once);
            Assert.That(second.Principal.Identity!.Name, Is.EqualTo("alice"));
            Assert.That(second.Principal.HasClaim(c => c.Type == "added"), Is.False);
            Assert.That(second.Properties.Items.ContainsKey("changed"), Is.False);
            Assert.That(second.Properties.ExpiresUtc, Is.EqualTo(first.Properties.ExpiresUtc));
        });
    }

    [Test]
    public void ARememberedToken_IsOpenedAgainAfterTheKeepPeriod()
    {
        _format.Unprotect("good");
        _time.Advance(ReusedTicketFormat.Keep - TimeSpan.FromSeconds(1));
        _format.Unprotect("good");
        _time.Advance(TimeSpan.FromSeconds(1));
        _format.Unprotect("good");

        _inner.Verify(f => f.Unprotect("good"), Times.Exactly(2));
    }

    [Test]
    public void ATokenThatDoesNotOpen_IsNeverRemembered()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_format.Unprotect("bad"), Is.Null);
            Assert.That(_format.Unprotect("bad"), Is.Null);
        });
        _inner.Verify(f => f.Unprotect("bad"), Times.Exactly(2));
    }

    [Test]
    public void ProtectAndPurposeBoundCalls_GoStraightThrough()
    {
        var ticket = Ticket("bob");
        _inner.Setup(f => f.Protect(ticket)).Returns("sealed");
        _inner.Setup(f => f.Unprotect("good", "purpose")).Returns(() => Ticket("carol"));

        Assert.Multiple(() =>
        {
            Assert.That(_format.Protect(ticket), Is.EqualTo("sealed"));
            Assert.That(_format.Unprotect("good", "purpose")!.Principal.Identity!.Name, Is.EqualTo("carol"));
            Assert.That(_format.Unprotect("good", "purpose")!.Principal.Identity!.Name, Is.EqualTo("carol"));
        });
        _inner.Verify(f => f.Unprotect("good", "purpose"), Times.Exactly(2));
    }

    [Test]
    public void BeyondItsCapacity_ItForgetsRatherThanGrows()
    {
        _inner.Setup(f => f.Unprotect(It.Is<string>(s => s.StartsWith("t-", StringComparison.Ordinal))))
            .Returns(() => Ticket("many"));
        for (var i = 0; i <= ReusedTicketFormat.Capacity; i++)
        {
            _format.Unprotect($"t-{i}");
        }

        _format.Unprotect("t-0");

        _inner.Verify(f => f.Unprotect("t-0"), Times.Exactly(2));
    }

    private static AuthenticationTicket Ticket(string name) =>
        new(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], "BearerToken")),
            new AuthenticationProperties { ExpiresUtc = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero) },
            "BearerToken");

    private sealed class SteppedTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

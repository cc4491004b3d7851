using System.Security.Claims;
using MeatLizard.Application.Common;
using Microsoft.AspNetCore.Authentication;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// The bearer scheme's token format, remembering what each token it has opened holds: a client sends the same access
/// token with every request, and opening it (authenticated decryption plus reading the ticket) is a fixed cost per
/// request for nothing new. Every caller gets its own copy of the principal and properties, so nothing a request does
/// to its ticket reaches another. The bearer handler still checks the ticket's expiry on every request; a remembered
/// ticket is opened again after <see cref="Keep"/> (so a data-protection key revoked meanwhile takes effect within
/// it), tokens that do not open are never remembered, and at most <see cref="Capacity"/> tokens are held.
/// </summary>
public sealed class ReusedTicketFormat(ISecureDataFormat<AuthenticationTicket> inner, TimeProvider time)
    : ISecureDataFormat<AuthenticationTicket>
{
    public const int Capacity = 10_000;
    public static readonly TimeSpan Keep = TimeSpan.FromMinutes(5);

    private readonly CountedMap<string, (AuthenticationTicket Ticket, DateTimeOffset Until)> _opened =
        new(StringComparer.Ordinal);

    public string Protect(AuthenticationTicket data) => inner.Protect(data);

    public string Protect(AuthenticationTicket data, string? purpose) => inner.Protect(data, purpose);

    public AuthenticationTicket? Unprotect(string? protectedText) => Unprotect(protectedText, null);

    public AuthenticationTicket? Unprotect(string? protectedText, string? purpose)
    {
        if (protectedText is null || purpose is not null)
        {
            return inner.Unprotect(protectedText, purpose);
        }

        var now = time.GetUtcNow();
        if (_opened.TryGetValue(protectedText, out var opened) && now < opened.Until)
        {
            return Copy(opened.Ticket);
        }

        var ticket = inner.Unprotect(protectedText);
        if (ticket is null)
        {
            return null;
        }

        if (_opened.Count >= Capacity)
        {
            // Crude but bounded: the live tokens are opened again once each and remembered anew.
            _opened.Clear();
        }

        _opened[protectedText] = (ticket, now + Keep);
        return Copy(ticket);
    }

    // ClaimsPrincipal.Clone shares its identities: each identity is cloned so that added claims stay with one request.
    private static AuthenticationTicket Copy(AuthenticationTicket ticket) =>
        new(new ClaimsPrincipal(ticket.Principal.Identities.Select(identity => identity.Clone())),
            ticket.Properties.Clone(), ticket.AuthenticationScheme);
}

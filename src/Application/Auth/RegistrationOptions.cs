using System.Security.Cryptography;
using System.Text;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth;

/// <summary>Section "Auth".</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Who may register until an admin changes it at run time (table <c>settings</c>, key auth.registration).</summary>
    public RegistrationPolicy Registration { get; set; } = RegistrationPolicy.Open;
}

/// <summary>The codes of setup and invite links: random, shown once, stored as their SHA-256.</summary>
public static class RegistrationCodes
{
    /// <summary>A new code: 32 random bytes, base64url (fits a link as it is).</summary>
    public static string New() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(code.Trim())));
    }
}

using Microsoft.AspNetCore.Identity;

namespace MeatLizard.Infrastructure.Identity;

/// <summary>ASP.NET Core Identity's password hashing (V3: PBKDF2 with HMAC-SHA512, salted, versioned format).</summary>
public sealed class IdentityPasswordHasher : MeatLizard.Application.Abstractions.IPasswordHasher
{
    // The hasher ignores the user object; one shared placeholder avoids an allocation per call.
    private static readonly object AnyUser = new();

    private readonly PasswordHasher<object> _hasher = new();

    public string Hash(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return _hasher.HashPassword(AnyUser, password);
    }

    /// <summary>True when <paramref name="password"/> matches; false for a wrong password or a malformed hash.</summary>
    public bool Verify(string hash, string password)
    {
        if (string.IsNullOrEmpty(hash) || password is null)
        {
            return false;
        }

        try
        {
            return _hasher.VerifyHashedPassword(AnyUser, hash, password)
                is PasswordVerificationResult.Success or PasswordVerificationResult.SuccessRehashNeeded;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

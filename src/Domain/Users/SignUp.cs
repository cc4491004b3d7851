using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Users;

/// <summary>Who may create an account (<c>Auth:Registration</c>, changeable by an admin at run time).</summary>
public enum RegistrationPolicy
{
    /// <summary>Anyone may register and sign in at once.</summary>
    Open,

    /// <summary>Anyone may register; the account waits until an admin approves it.</summary>
    Approval,

    /// <summary>Only with an admin's invite link (single use, expiring).</summary>
    InviteOnly,

    /// <summary>Nobody may register.</summary>
    Closed,
}

/// <summary>What the platform is like when someone registers.</summary>
public sealed record SignUpFacts(RegistrationPolicy Policy, bool HasAdmin);

/// <summary>A pass a registration presented (a setup token or an invite code), and the stored invite it named, if any.</summary>
public readonly record struct SignUpPass(bool Given, Invite? Found)
{
    public static SignUpPass None => default;
}

/// <summary>The account a registration may create: its role, whether it waits for approval, the pass it spends.</summary>
public sealed record SignUpTerms(UserRole Role, bool AwaitsApproval, Invite? Spends);

/// <summary>
/// The rules of creating an account. While the platform has no admin, the setup link's pass makes the account that
/// presents it the first admin. Nothing else makes an admin: an account registered without it, even the first on an
/// empty database, is an ordinary one under the registration policy, so nobody else on the network can become admin by
/// registering first, and a program that registers its own account works on a new platform as on any other.
/// </summary>
public static class SignUp
{
    public const string SetupTokenField = "setupToken";
    public const string InviteCodeField = "inviteCode";

    public static SignUpTerms Decide(SignUpFacts facts, SignUpPass setup, SignUpPass invite, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(facts);
        if (setup.Given)
        {
            var pass = setup.Found is { GrantsAdmin: true } found
                ? found
                : throw Refused("This setup link is not valid; run `admin setup-link` on the API host for a new one.",
                    SetupTokenField);
            if (facts.HasAdmin)
            {
                throw new DomainException("This platform has an admin already: sign in, or ask an admin to promote you.",
                    DomainErrorKind.Conflict, SetupTokenField);
            }

            return new SignUpTerms(UserRole.Admin, false, Usable(pass, now, SetupTokenField));
        }

        return facts.Policy switch
        {
            RegistrationPolicy.Open => new SignUpTerms(UserRole.User, false, null),
            RegistrationPolicy.Approval => new SignUpTerms(UserRole.User, true, null),
            RegistrationPolicy.InviteOnly => new SignUpTerms(UserRole.User, false, Invited(invite, now)),
            _ => throw Refused("Registration is closed on this platform.", null),
        };
    }

    private static Invite Invited(SignUpPass invite, DateTimeOffset now)
    {
        if (!invite.Given)
        {
            throw Refused("Registration here is by invitation: open the invite link an admin gave you.", InviteCodeField);
        }

        var pass = invite.Found is { GrantsAdmin: false } found
            ? found
            : throw Refused("This invite code is not valid.", InviteCodeField);
        return Usable(pass, now, InviteCodeField);
    }

    private static Invite Usable(Invite pass, DateTimeOffset now, string field) =>
        pass.RefusalAt(now) is { } refusal ? throw Refused(refusal.Message, field) : pass;

    private static DomainException Refused(string message, string? field) =>
        new(message, DomainErrorKind.Forbidden, field);
}

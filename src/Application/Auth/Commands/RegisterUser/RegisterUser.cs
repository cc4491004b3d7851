using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

/// <param name="InviteCode">The code of an admin's invite link (sign-up by invitation).</param>
/// <param name="SetupToken">The token of the setup link the API host prints while there is no admin.</param>
public sealed record RegisterUser(string? Username, string? Password, string? InviteCode = null, string? SetupToken = null)
    : IRequest<UserDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Register];
}

/// <summary>
/// Creates an account on the terms of <see cref="SignUp"/>: the first admin with the setup link, then as the
/// registration policy says. The account and the pass it spends are stored in one transaction.
/// </summary>
public sealed class RegisterUserHandler(
    IUserRepository users, IInviteRepository invites, SignUpFactsReader facts, IPasswordHasher hasher, IClock clock,
    IUnitOfWork unitOfWork) : IRequestHandler<RegisterUser, UserDto>
{
    public async Task<UserDto> Handle(RegisterUser request, CancellationToken cancellationToken)
    {
        var username = Username.From(request.Username);
        var passwordHash = hasher.Hash(request.Password!);
        return await unitOfWork.InTransactionAsync(async ct =>
        {
            if (await users.GetByUsernameAsync(username.Value, ct) is not null)
            {
                throw new ConflictException("This username is taken.", "username");
            }

            var now = clock.UtcNow;
            var terms = SignUp.Decide(await facts.ReadAsync(ct), await facts.PassAsync(request.SetupToken, ct),
                await facts.PassAsync(request.InviteCode, ct), now);
            var user = User.Register(username, passwordHash, now, terms.Role, terms.AwaitsApproval);
            await users.AddAsync(user, ct);
            if (terms.Spends is { } pass)
            {
                pass.Use(user.Id, now);
                if (!await invites.TryMarkUsedAsync(pass, ct))
                {
                    throw new DomainException(new InviteIsUsedOnceRule(pass).Message, DomainErrorKind.Forbidden,
                        pass.GrantsAdmin ? SignUp.SetupTokenField : SignUp.InviteCodeField);
                }
            }

            return user.ToDto();
        }, cancellationToken);
    }
}

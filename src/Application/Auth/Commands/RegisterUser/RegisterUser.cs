using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth.Commands;

public sealed record RegisterUser(string? Username, string? Password) : IRequest<UserDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Register];
}

public sealed class RegisterUserHandler(
    IUserRepository users, IPasswordHasher hasher, IClock clock) : IRequestHandler<RegisterUser, UserDto>
{
    public async Task<UserDto> Handle(RegisterUser request, CancellationToken cancellationToken)
    {
        var username = Username.From(request.Username);
        if (await users.GetByUsernameAsync(username.Value, cancellationToken) is not null)
        {
            throw new ConflictException("This username is taken.", "username");
        }

        var user = User.Register(username, hasher.Hash(request.Password!), clock.UtcNow);
        await users.AddAsync(user, cancellationToken);
        return user.ToDto();
    }
}

using AutoMapper;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>Checks credentials; the host turns the user into a token and a cookie.</summary>
public sealed record LogIn(string? Username, string? Password) : IRequest<UserDto>;

public sealed class LogInValidator : AbstractValidator<LogIn>
{
    public LogInValidator()
    {
        RuleFor(x => x.Username).NotEmpty().OverridePropertyName("username").WithMessage("A username is required.");
        RuleFor(x => x.Password).NotEmpty().OverridePropertyName("password").WithMessage("A password is required.");
    }
}

public sealed class LogInHandler(IUserRepository users, IPasswordHasher hasher, IMapper mapper)
    : IRequestHandler<LogIn, UserDto>
{
    // Verified against when the user does not exist, so an unknown user and a wrong password take the same time.
    private static string? s_decoyHash;

    public async Task<UserDto> Handle(LogIn request, CancellationToken cancellationToken)
    {
        var user = request.Username!.Length <= Domain.Common.Username.MaxLength
            ? await users.GetByUsernameAsync(request.Username, cancellationToken)
            : null;
        s_decoyHash ??= hasher.Hash(Guid.NewGuid().ToString("N"));
        var valid = hasher.Verify(user?.PasswordHash ?? s_decoyHash, request.Password!);
        if (!valid || user is null)
        {
            throw new UnauthenticatedException("Wrong username or password.");
        }

        user.EnsureCanAct();
        return mapper.Map<UserDto>(user);
    }
}

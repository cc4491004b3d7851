using System.Security.Cryptography;
using System.Text;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Channels.Commands;

/// <summary>A one-time code, valid <see cref="CreateLinkCodeHandler.Lifetime"/>, and when it stops working.</summary>
public sealed record LinkCodeDto(string Code, DateTimeOffset ExpiresAt);

/// <summary>
/// Makes a one-time code with which the caller's chat network identity is linked to their web account: the member
/// types <c>/link code:…</c> and their chats there belong to this account from then on.
/// </summary>
public sealed record CreateLinkCode : IRequest<LinkCodeDto>, Common.Behaviours.IRateLimitedRequest
{
    /// <summary>Each code is a stored entry: limited per user like the other edits of one's own records.</summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class CreateLinkCodeHandler(UserAccess access, ILinkCodeStore codes, IClock clock)
    : IRequestHandler<CreateLinkCode, LinkCodeDto>
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    /// <summary>Letters and digits that cannot be mistaken for one another when typed from a screen.</summary>
    private const string Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    private const int Length = 10;

    public async Task<LinkCodeDto> Handle(CreateLinkCode request, CancellationToken cancellationToken)
    {
        var user = await access.RequirePasswordSignInAsync("make link codes", cancellationToken);
        var code = RandomNumberGenerator.GetString(Alphabet, Length);
        var expiresAt = clock.UtcNow + Lifetime;
        await codes.AddAsync(Hash(code), user.Id, expiresAt, cancellationToken);
        return new LinkCodeDto(code, expiresAt);
    }

    /// <summary>What is stored of a code: its SHA-256, of the code as typed without case or spaces.</summary>
    public static string Hash(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var normalized = string.Concat(code.Where(c => !char.IsWhiteSpace(c) && c != '-')).ToUpperInvariant();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalized)));
    }
}

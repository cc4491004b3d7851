
namespace MeatLizard.Application.Admin.Commands;

/// <summary>What a ban or unban did; <see cref="Changed"/> is false when the user already was in that state.</summary>
public sealed record UserStatusChangedDto(Guid UserId, string Username, bool Banned, bool Changed);

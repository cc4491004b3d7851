using FluentValidation;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Channels;

/// <summary>
/// Runs a member's command as their user, through the same Application commands and queries as the web app: the
/// member's user becomes the scope's caller (<see cref="ChannelCaller"/>), and a refusal (banned, a limit, bad input,
/// not found) becomes the line to show the member instead of an exception.
/// </summary>
public sealed class MemberAsCaller(ChannelMembers members, ChannelCaller caller)
{
    public async Task<string> RunAsync(ChannelMember member, ChannelPlace place, Func<User, Task<string>> command,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(place);
        ArgumentNullException.ThrowIfNull(command);
        var (user, _) = await members.ResolveAsync(member, cancellationToken);
        if (user.IsBanned)
        {
            return ChannelTexts.Banned;
        }

        caller.Become(user.Id, member, place);
        try
        {
            return await command(user);
        }
        catch (ValidationException ex)
        {
            return string.Join(" ", ex.Errors.Select(e => e.ErrorMessage).Distinct());
        }
        catch (RateLimitedException ex)
        {
            return ChannelTexts.RateLimited(ex.Scope, ex.RetryAfter);
        }
        catch (DomainException ex) when (ex.Kind == DomainErrorKind.Forbidden)
        {
            return ChannelTexts.Banned;
        }
        catch (Exception ex) when (ex is DomainException or NotFoundException or ConflictException)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// Whether the member's user is a web account they can sign in to (linked with <c>/link</c>), rather than the one
    /// made for them on first use.
    /// </summary>
    public static bool IsLinked(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return !Username.IsChannelMember(user.Username.Value);
    }

    /// <summary>A path of the web app (<c>/c/{id}</c>) as a full link when its address is known, else the path.</summary>
    public static string WebLink(string path, string? webBaseUrl) =>
        string.IsNullOrWhiteSpace(webBaseUrl) ? path : webBaseUrl.TrimEnd('/') + path;
}

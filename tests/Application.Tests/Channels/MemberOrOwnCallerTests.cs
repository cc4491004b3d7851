using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Channels;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Channels;

/// <summary>
/// The API host serves its HTTP callers and, with Telegram, chat network members: a scope is the request's until the
/// channel handler makes it a member's, and then every limit and check sees that member (never the other way round).
/// </summary>
public sealed class MemberOrOwnCallerTests
{
    private static readonly UserId WebUser = new(Guid.NewGuid());

    /// <summary>The host's own caller: a signed-in web user with an API key, from an address.</summary>
    private sealed class RequestCaller : ICurrentUser
    {
        public UserId? Id => WebUser;

        public string? ClientIp => "203.0.113.7";

        public bool ByApiKey => true;
    }

    private static ServiceProvider Host()
    {
        var services = new ServiceCollection();
        services.AddCallersBesideChannelMembers<RequestCaller>();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
    }

    [Test]
    public void AScopeNoMemberWasMadeCallerOf_IsTheHostsOwnCallers()
    {
        using var host = Host();
        using var scope = host.CreateScope();
        var caller = scope.ServiceProvider.GetRequiredService<ICurrentUser>();

        Assert.That(caller.Id, Is.EqualTo(WebUser));
        Assert.That(caller.ClientIp, Is.EqualTo("203.0.113.7"));
        Assert.That(caller.ByApiKey, Is.True);
        Assert.That(caller.GroupId, Is.Null);
    }

    [Test]
    public void OnceTheChannelHandlerMadeAMemberTheCaller_EverythingIsTheMembers_EvenThroughACallerResolvedBefore()
    {
        using var host = Host();
        using var scope = host.CreateScope();
        var caller = scope.ServiceProvider.GetRequiredService<ICurrentUser>();
        var member = new UserId(Guid.NewGuid());

        scope.ServiceProvider.GetRequiredService<ChannelCaller>().Become(member,
            new ChannelMember("telegram", "42", "Alice"), new ChannelPlace("-100", "-100"));

        Assert.That(caller.Id, Is.EqualTo(member));
        Assert.That(caller.ClientIp, Is.Null, "a member has no address of ours");
        Assert.That(caller.ByApiKey, Is.False);
        Assert.That(caller.GroupId, Is.EqualTo("telegram:-100"));
    }
}

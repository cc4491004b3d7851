using System.Net;
using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public sealed class ClientAddressTests
{
    [TestCase("2001:db8:1:2::1", "2001:db8:1:2:ffff:eeee:dddd:cccc", 64, true)]
    [TestCase("2001:db8:1:2::1", "2001:db8:1:3::1", 64, false)]
    [TestCase("2001:db8:1:2::1", "2001:db8:1:3::1", 48, true)]
    [TestCase("2001:db8:1:2::1", "2001:db8:1:2::2", 128, false)]
    [TestCase("198.51.100.7", "198.51.100.8", 64, false)]
    [TestCase("198.51.100.7", "::ffff:198.51.100.7", 64, true)]
    public void AddressesOfOneNetwork_AreOneClient(string a, string b, int prefix, bool same)
    {
        var first = ClientAddress.RateLimitKey(IPAddress.Parse(a), prefix);
        var second = ClientAddress.RateLimitKey(IPAddress.Parse(b), prefix);

        Assert.That(first == second, Is.EqualTo(same), $"{first} / {second}");
    }

    [Test]
    public void TheKeyNamesTheNetwork()
    {
        Assert.That(ClientAddress.RateLimitKey(IPAddress.Parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64), Is.EqualTo("2001:db8:1:2::/64"));
        Assert.That(ClientAddress.RateLimitKey(IPAddress.Parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 56), Is.EqualTo("2001:db8:1::/56"));
        Assert.That(ClientAddress.RateLimitKey(IPAddress.Parse("198.51.100.7"), 64), Is.EqualTo("198.51.100.7"));
    }

    [TestCase(31)]
    [TestCase(129)]
    public void APrefixOutOfRange_IsAConfigurationErrorNamingTheKey(int prefix)
    {
        var problem = new RateLimitOptions { Ipv6PrefixLength = prefix }.FirstProblem();

        Assert.That(problem, Does.StartWith("RateLimits:Ipv6PrefixLength"));
    }
}

using MeatLizard.Infrastructure.Identity;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Identity;

public sealed class IdentityPasswordHasherTests
{
    private readonly IdentityPasswordHasher _hasher = new();

    [Test]
    public void Verify_WithThePasswordThatWasHashed_Succeeds()
    {
        var hash = _hasher.Hash("correct horse battery staple");

        Assert.That(_hasher.Verify(hash, "correct horse battery staple"), Is.True);
    }

    [Test]
    public void Verify_WithAnotherPassword_Fails()
    {
        var hash = _hasher.Hash("correct horse battery staple");

        Assert.Multiple(() =>
        {
            Assert.That(_hasher.Verify(hash, "Correct horse battery staple"), Is.False);
            Assert.That(_hasher.Verify(hash, string.Empty), Is.False);
        });
    }

    [Test]
    public void Hash_IsSaltedV3AndNeverContainsThePassword()
    {
        var first = _hasher.Hash("s3cret-password");
        var second = _hasher.Hash("s3cret-password");

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.Not.EqualTo(second));
            Assert.That(Convert.FromBase64String(first)[0], Is.EqualTo(0x01), "V3 format marker");
            Assert.That(first, Does.Not.Contain("s3cret"));
        });
    }

    [TestCase("")]
    [TestCase("not base64 at all!")]
    [TestCase("AQ==")]
    [TestCase("AAAA")]
    [TestCase("AQAAAAEAACcQAAAAEA==")]
    public void Verify_WithAMalformedHash_ReturnsFalseWithoutThrowing(string malformed)
    {
        var verified = true;

        Assert.DoesNotThrow(() => verified = _hasher.Verify(malformed, "password"));
        Assert.That(verified, Is.False);
    }
}

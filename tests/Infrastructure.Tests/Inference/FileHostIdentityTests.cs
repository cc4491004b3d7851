using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Inference;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference;

/// <summary>A model host keeps its id across restarts: requests addressed to it before still reach it.</summary>
public sealed class FileHostIdentityTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("meatlizard-identity-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void TheIdMadeOnFirstStart_IsTheIdAfterARestart_AndOnlyItsOwnerMayReadIt()
    {
        var path = Path.Combine(_folder, "data", FileHostIdentity.FileName);

        var first = new FileHostIdentity(path).WorkerId;
        var afterRestart = new FileHostIdentity(path).WorkerId;

        Assert.That(first, Is.Not.EqualTo(Guid.Empty));
        Assert.That(afterRestart, Is.EqualTo(first));
        Assert.That(new FileHostIdentity(Path.Combine(_folder, "other", FileHostIdentity.FileName)).WorkerId,
            Is.Not.EqualTo(first), "another data folder is another host");
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public void AFileThatHoldsNoId_IsAOneLineErrorNamingIt()
    {
        var path = Path.Combine(_folder, FileHostIdentity.FileName);
        File.WriteAllText(path, "not an id");

        var error = Assert.Throws<ConfigurationException>(() => _ = new FileHostIdentity(path).WorkerId);

        Assert.That(error!.Message, Does.Contain(path).And.Not.Contain("\n"));
    }
}

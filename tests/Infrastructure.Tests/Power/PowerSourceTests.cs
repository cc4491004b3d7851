using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Power;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Power;

public sealed class PmsetPowerSourceTests
{
    private const string OnBattery =
        "Now drawing from 'Battery Power'\n -InternalBattery-0 (id=4653155)\t42%; discharging; 2:10 remaining present: true\n";

    private const string OnAcCharging =
        "Now drawing from 'AC Power'\n -InternalBattery-0 (id=4653155)\t87%; charging; 0:35 remaining present: true\n";

    private const string OnAcCharged =
        "Now drawing from 'AC Power'\n -InternalBattery-0 (id=4653155)\t100%; charged; 0:00 remaining present: true\n";

    private const string DesktopWithoutBattery = "Now drawing from 'AC Power'\n";

    [Test]
    public void Parse_OnBattery() =>
        Assert.That(PmsetPowerSource.Parse(OnBattery), Is.EqualTo(new PowerStatus(true, 42)));

    [Test]
    public void Parse_OnAc_Charging() =>
        Assert.That(PmsetPowerSource.Parse(OnAcCharging), Is.EqualTo(new PowerStatus(false, 87)));

    [Test]
    public void Parse_OnAc_Charged() =>
        Assert.That(PmsetPowerSource.Parse(OnAcCharged), Is.EqualTo(new PowerStatus(false, 100)));

    [Test]
    public void Parse_DesktopWithoutBattery_HasNoPercentage() =>
        Assert.That(PmsetPowerSource.Parse(DesktopWithoutBattery), Is.EqualTo(new PowerStatus(false, null)));

    [Test]
    public void Parse_UnknownOutput_IsNull() =>
        Assert.That(PmsetPowerSource.Parse("pmset: command not supported"), Is.Null);
}

public sealed class SysfsPowerSourceTests
{
    private string _root = null!;

    [SetUp]
    public void CreateRoot() => _root = Directory.CreateTempSubdirectory("meatlizard-sysfs-").FullName;

    [TearDown]
    public void DeleteRoot() => Directory.Delete(_root, recursive: true);

    private void Supply(string name, params (string File, string Value)[] values)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        foreach (var (file, value) in values)
        {
            File.WriteAllText(Path.Combine(directory, file), value + "\n");
        }
    }

    [Test]
    public async Task LaptopUnplugged_IsOnBattery_WithItsCapacity()
    {
        Supply("AC", ("type", "Mains"), ("online", "0"));
        Supply("BAT0", ("type", "Battery"), ("present", "1"), ("status", "Discharging"), ("capacity", "15"));

        Assert.That(await new SysfsPowerSource(_root).ReadAsync(CancellationToken.None), Is.EqualTo(new PowerStatus(true, 15)));
    }

    [Test]
    public void LaptopPluggedIn_IsNotOnBattery()
    {
        Supply("AC", ("type", "Mains"), ("online", "1"));
        Supply("BAT0", ("type", "Battery"), ("present", "1"), ("status", "Charging"), ("capacity", "15"));

        Assert.That(SysfsPowerSource.Read(_root), Is.EqualTo(new PowerStatus(false, 15)));
    }

    [Test]
    public void TwoBatteries_ReportTheLowest()
    {
        Supply("BAT0", ("type", "Battery"), ("status", "Discharging"), ("capacity", "60"));
        Supply("BAT1", ("type", "Battery"), ("status", "Discharging"), ("capacity", "9"));

        Assert.That(SysfsPowerSource.Read(_root), Is.EqualTo(new PowerStatus(true, 9)));
    }

    [Test]
    public void ServerWithoutBattery_IsUnknown()
    {
        Supply("AC", ("type", "Mains"), ("online", "1"));

        Assert.That(SysfsPowerSource.Read(_root), Is.Null);
    }

    [Test]
    public void MissingDirectory_IsUnknown() =>
        Assert.That(SysfsPowerSource.Read(Path.Combine(_root, "absent")), Is.Null);
}

using MeatLizard.Infrastructure.Telemetry;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Telemetry;

public sealed class TelemetryRegistrationTests
{
    [TestCase(null, "simple")]
    [TestCase("", "simple")]
    [TestCase("Simple", "simple")]
    [TestCase("json", "json")]
    [TestCase(" JSON ", "json")]
    public void LogFormat_IsSimpleOrJson(string? value, string expected) =>
        Assert.That(TelemetryRegistration.ReadLogFormat(Configuration(value)), Is.EqualTo(expected));

    [TestCase("xml")]
    [TestCase("jsonl")]
    public void LogFormat_AnythingElse_StopsTheHostWithOneLineNamingTheSetting(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => TelemetryRegistration.ReadLogFormat(Configuration(value)));

        Assert.That(error!.Message, Does.StartWith("Logging:Format ").And.Contain($"'{value}'").And.Not.Contain("\n"));
    }

    private static IConfiguration Configuration(string? format) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:Format"] = format })
        .Build();
}

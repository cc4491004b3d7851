using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// A test of the bots over the fake Discord: fresh bots for every test, and after it every request body they sent
/// checked against Discord's OpenAPI spec.
/// </summary>
public abstract class TwoBotsTest
{
    protected TwoBots Bots { get; private set; } = null!;

    [SetUp]
    public async Task CreateBotsAsync() => Bots = await TwoBots.CreateAsync();

    [TearDown]
    public async Task DisposeBotsAsync()
    {
        try
        {
            Assert.That(Bots.Fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        }
        finally
        {
            await Bots.DisposeAsync();
        }
    }
}

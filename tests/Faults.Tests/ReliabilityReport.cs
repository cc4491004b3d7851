using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// Writes the table when the suite ends. In the suite's root namespace: a set-up fixture applies to the tests of its own
/// namespace and below only (in Support it ran for none, and the table was never written).
/// </summary>
[SetUpFixture]
public sealed class ReliabilityReport
{
    [OneTimeTearDown]
    public void Write()
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "reliability.md");
        File.WriteAllText(path, ReliabilityTable.Render());
        TestContext.Progress.WriteLine(ReliabilityTable.Render());
    }
}

using MeatLizard.Api.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Distributed.Tests;

/// <summary>
/// The deployment with no Discord (<see cref="NoDiscordDeploymentTests"/>) with two API instances relaying side by side:
/// on PostgreSQL and Redis alone, which several instances need (a fixture of its own, so no SQLite case is skipped).
/// </summary>
public sealed class NoDiscordTwoInstancesTests
{
    private readonly NoDiscordDeploymentTests _deployment = new(StorageProvider.Postgres);

    [SetUp]
    public Task SetUp() => _deployment.SetUp();

    [TearDown]
    public Task TearDown() => _deployment.TearDown();

    [Test]
    public Task TwoRelayingInstances_AQuestionTakenInAtOne_IsAnsweredOnce_ByTheHostThatDialledTheOther() =>
        _deployment.TwoRelayingInstancesAsync();
}

using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Infrastructure.Tests.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Redis;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>
/// A fault fixture whose cluster runs on a PostgreSQL and a Redis of its own (so they can be restarted without
/// touching other fixtures), with the client bot on real llama.cpp and the suite's relay settings.
/// </summary>
public abstract class OwnServersFixture : ClusterFixture
{
    protected OwnPostgresServer Postgres { get; private set; } = null!;

    protected OwnRedisServer Redis { get; private set; } = null!;

    protected override async Task<ClusterOptions> StartingAsync()
    {
        Redis = Own(new OwnRedisServer());
        await Redis.StartAsync();
        Postgres = Own(await OwnPostgresServer.StartAsync());
        return new ClusterOptions
        {
            Postgres = Postgres.ConnectionString,
            Redis = Redis.Endpoint,
            SharedSettings = FaultCluster.Settings(),
            ClientBotProcess = FaultCluster.LlamaClientBot(),
        };
    }
}

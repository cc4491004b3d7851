using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// The server bot's place in each Discord channel (migration 0009): kept across restarts, forward only, the same on
/// every provider. Discord's ids are 64-bit snowflakes written as strings; today's use 60 bits.
/// </summary>
public abstract class RelayCursorStoreContract : DatabaseContract
{

    /// <summary>A message posted in 2026 (1,420,070,400,000 ms is Discord's epoch).</summary>
    private const ulong Recent = 1_447_000_000_000_000_000UL;

    [Test]
    public async Task Places_AreReadBackAfterARestart_PerChannel()
    {
        await SaveAsync(Db.Services, ("111", Recent), ("222", Recent + 5));

        await using var restarted = Db.StartHost();
        Assert.That(await ReadAsync(restarted), Is.EquivalentTo(new Dictionary<string, ulong>
        {
            ["111"] = Recent,
            ["222"] = Recent + 5,
        }));
    }

    [Test]
    public async Task APlace_OnlyMovesForward_AnOlderOneChangesNothing()
    {
        await SaveAsync(Db.Services, ("111", Recent + 10));
        await SaveAsync(Db.Services, ("111", Recent + 3));
        Assert.That((await ReadAsync(Db.Services))["111"], Is.EqualTo(Recent + 10), "older");

        await SaveAsync(Db.Services, ("111", Recent + 11));
        Assert.That((await ReadAsync(Db.Services))["111"], Is.EqualTo(Recent + 11), "newer");
    }

    [Test]
    public async Task TheLargestSnowflakeASignedColumnHolds_IsKeptExactly()
    {
        await SaveAsync(Db.Services, ("111", long.MaxValue));

        Assert.That((await ReadAsync(Db.Services))["111"], Is.EqualTo((ulong)long.MaxValue));
    }

    [Test]
    public async Task AForgottenChannel_IsNoLongerRead_TheOthersStay()
    {
        await SaveAsync(Db.Services, ("111", Recent), ("222", Recent + 5));

        await using (var scope = Db.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>().ForgetAsync(["111", "333"], None);
        }

        Assert.That(await ReadAsync(Db.Services), Is.EquivalentTo(new Dictionary<string, ulong> { ["222"] = Recent + 5 }));
    }

    [Test]
    public async Task NoPlaceStored_ReadsEmpty()
    {
        Assert.That(await ReadAsync(Db.Services), Is.Empty);
    }

    private static async Task SaveAsync(IServiceProvider services, params (string Channel, ulong Message)[] places)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>()
            .SaveAsync(places.ToDictionary(p => p.Channel, p => p.Message), None);
    }

    private static async Task<IReadOnlyDictionary<string, ulong>> ReadAsync(IServiceProvider services)
    {
        await using var scope = services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IRelayCursorStore>().ReadAllAsync(None);
    }
}

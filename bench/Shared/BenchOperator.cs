using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Bench;

/// <summary>
/// Until a platform has an admin nobody may register (the operator makes the first with the setup link): a benchmark
/// host gets one, with no password, before its users sign up.
/// </summary>
internal static class BenchOperator
{
    public const string SeedSql = """
        INSERT INTO users (id, username, password_hash, role, status, created_at, security_stamp)
        VALUES (gen_random_uuid(), 'operator', '!', 'admin', 'active', now(), 'seeded') ON CONFLICT DO NOTHING
        """;

    public static async Task SeedAsync(IServiceProvider services)
    {
        await using var scope = services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
        if (await users.CountAdminsAsync(CancellationToken.None) == 0)
        {
            await users.AddAsync(User.Register(Username.From("operator"), User.NoPassword, DateTimeOffset.UtcNow,
                UserRole.Admin), CancellationToken.None);
        }
    }
}

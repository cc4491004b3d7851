using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>Redis answers PING (its own short-lived connection that gives up, unlike the host's).</summary>
public sealed class RedisDoctorCheck(IOptions<RedisOptions> options) : IDoctorCheck
{
    private const string Check = "redis";

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var configuration = RedisConnection.ParseConfiguration(options.Value.Configuration);
        configuration.AbortOnConnectFail = true;
        configuration.ConnectRetry = 1;
        configuration.ConnectTimeout = 5000;
        var where = string.Join(", ", configuration.EndPoints.Select(e => e.ToString()));
        try
        {
            using var connection = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(cancellationToken);
            var server = connection.GetServer(connection.GetEndPoints()[0]);
            var latency = await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return [DoctorResult.Pass(Check, $"Redis {server.Version} at {where}, PING {latency.TotalMilliseconds:0.0} ms")];
        }
        catch (RedisConnectionException ex)
        {
            var reason = ex.FailureType switch
            {
                ConnectionFailureType.AuthenticationFailure => "authentication refused",
                ConnectionFailureType.UnableToConnect or ConnectionFailureType.UnableToResolvePhysicalConnection => "connection refused",
                _ => ex.FailureType.ToString(),
            };
            return [DoctorResult.Fail(Check, $"{reason} at {where}", $"start Redis or fix {RedisOptions.ConnectionStringKey}")];
        }
        catch (RedisException ex)
        {
            return [DoctorResult.Fail(Check, $"{ex.GetType().Name} at {where}", $"check Redis at {where} and {RedisOptions.ConnectionStringKey}")];
        }
    }
}

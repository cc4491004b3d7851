using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// <see cref="IDirectRelayPeers"/> of API instances that run the direct relay side by side on one Redis: an envelope
/// for a host connected to another instance is published, and every other instance hands it to its transport, which
/// sends it only if the host's link is there (<see cref="DirectServerRelayTransport.SendForwarded"/>). The envelope goes
/// sealed, as on the host's connection: Redis sees no more than the hosts do. Fire and forget, as an envelope on the
/// way: with Redis down the host finishes the answer, which is dropped (the request is cancelled).
/// </summary>
public sealed class RedisDirectRelayPeers(RedisConnection connection, RedisOutages outages, IServiceProvider services)
    : IDirectRelayPeers, IHostedService
{
    /// <summary>This process, so it does not take back what it published.</summary>
    private readonly string _self = Guid.NewGuid().ToString("N");

    private RedisChannel Channel => new($"{connection.KeyPrefix}relay:direct:for-host", RedisChannel.PatternMode.Literal);

    public void Forward(Guid host, RelayPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        _ = outages.PublishAsync(connection, Channel,
            string.Join('\n', _self, host.ToString("D"), packet.ChatId?.ToString("D") ?? "", packet.Wire),
            "envelope for another instance's host", "the host finishes an answer that is dropped");
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var transport = services.GetRequiredService<DirectServerRelayTransport>();
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            // Confirmed: an envelope published once this process has started is heard.
            await connection.SubscribeAsync(subscriber, Channel, (_, message) =>
            {
                var parts = message.ToString().Split('\n', 4);
                if (parts.Length == 4 && parts[0] != _self && Guid.TryParseExact(parts[1], "D", out var host))
                {
                    Guid? chat = Guid.TryParseExact(parts[2], "D", out var chatId) ? chatId : null;
                    transport.SendForwarded(host, new RelayPacket(chat, parts[3]));
                }
            });
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // The multiplexer keeps the handler and subscribes once Redis is reachable.
            outages.Record("envelopes for hosts subscribe", "subscribed once Redis returns", ex);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await connection.UnsubscribeAsync(Channel);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("envelopes for hosts unsubscribe", "dropped when the connection closes", ex);
        }
    }
}

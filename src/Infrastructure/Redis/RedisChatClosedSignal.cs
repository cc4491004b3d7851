using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// <see cref="IChatClosedSignal"/> of an API instance beside a server bot: publishes the closed chat's id on Redis,
/// where <see cref="RedisChatClosedListener"/> in the server bot hears it and retires the chat's Discord channel at
/// once. Fire and forget: with Redis down or no server bot listening, the server bot's own sweep finds the chat later.
/// </summary>
public sealed class RedisChatClosedSignal(RedisConnection connection, RedisOutages outages) : IChatClosedSignal
{
    internal static RedisChannel Channel(RedisConnection connection) => new($"{connection.KeyPrefix}relay:session-closed", RedisChannel.PatternMode.Literal);

    public void NotifyClosed(Guid chatId) => _ = outages.PublishAsync(connection, Channel(connection),
        chatId.ToString("D"), "session closed", "its Discord channel is retired by the server bot's next sweep");
}

/// <summary>
/// In the process that runs the relay server: passes chats closed on other API instances
/// (<see cref="RedisChatClosedSignal"/>) to this process's <see cref="IChatClosedSignal"/> (the server bot's
/// Discord channel retirement; nothing in an embedded API).
/// </summary>
public sealed class RedisChatClosedListener(RedisConnection connection, IServiceProvider services, RedisOutages outages)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var local = services.GetRequiredService<IChatClosedSignal>();
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            // Confirmed: a chat closed once this process has started is heard.
            await connection.SubscribeAsync(subscriber, RedisChatClosedSignal.Channel(connection), (_, message) =>
            {
                if (Guid.TryParseExact(message.ToString(), "D", out var chatId))
                {
                    local.NotifyClosed(chatId);
                }
            });
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // The multiplexer keeps the handler and subscribes once Redis is reachable.
            outages.Record("session closed subscribe", "subscribed once Redis returns", ex);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await connection.UnsubscribeAsync(RedisChatClosedSignal.Channel(connection));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("session closed unsubscribe", "dropped when the connection closes", ex);
        }
    }
}

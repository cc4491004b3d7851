using MeatLizard.Application.Channels;
using MeatLizard.Infrastructure.Doctor;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Telegram;

public static class TelegramRegistration
{
    /// <summary>
    /// The Telegram bot, when <c>Telegram:BotToken</c> is set (else nothing is added): the Bot API client, the channel
    /// adapter, the update reader, the long-polling loop, its <c>doctor</c> check and the channel handler it hands
    /// questions to (<see cref="ChannelRegistration.AddChannelConversations"/>). Settings are checked here (one line
    /// naming the key). The one composition of Telegram, for whichever host serves it: the server bot, or the API host
    /// that dispatches when no server bot runs (README, "Three set-ups"); the host's caller must show the member
    /// (<see cref="ChannelRegistration"/>).
    /// </summary>
    public static IServiceCollection AddTelegramBot(this IServiceCollection services, IConfiguration configuration)
    {
        if (TelegramOptions.Read(configuration) is not { } options)
        {
            return services;
        }

        services.AddChannelConversations();
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        // A plain HttpClient: the factory's logging handlers would print request URLs, which hold the token. The
        // timeout leaves room for a long poll.
        services.AddSingleton(provider => new TelegramBotClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = TimeSpan.FromSeconds(options.PollTimeoutSeconds + 15),
            },
            options,
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<TelegramBotClient>>()));
        services.TryAddSingleton(TelegramPace.Documented);
        services.AddSingleton<TelegramChannelAdapter>();
        services.AddSingleton<ITelegramUpdateHandler, TelegramChatBot>();
        services.TryAddSingleton<MeatLizard.Application.Common.DutyRunner>();
        services.AddHostedService<TelegramPoller>();
        services.AddSingleton<IDoctorCheck, TelegramDoctorCheck>();
        return services;
    }
}

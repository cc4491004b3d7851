using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.Logging.Abstractions;

namespace MeatLizard.Discord.Tests.Fake;

/// <summary>Builds our own clients pointed at a fake Discord.</summary>
public static class FakeDiscordKit
{
    public static DiscordOptions Options(FakeDiscordServer fake, FakeBot bot) => new()
    {
        BotToken = bot.Token,
        ApiBaseUrl = fake.ApiBaseUrl,
        GatewayUrl = null,
        GuildId = fake.GuildId,
        ApplicationId = bot.ApplicationId,
        CategoryId = fake.CategoryId,
    };

    public static DiscordRestClient Rest(FakeDiscordServer fake, FakeBot bot) =>
        new(new HttpClient(), Options(fake, bot), new DiscordRateLimiter(TimeProvider.System), TimeProvider.System,
            NullLogger<DiscordRestClient>.Instance);

    public static GatewayTimings FastTimings() => new()
    {
        ReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        IdentifyInterval = TimeSpan.FromMilliseconds(100),
    };

    public static DiscordGatewayClient Gateway(FakeDiscordServer fake, FakeBot bot, GatewayIntents? intents = null) =>
        new(Rest(fake, bot), Options(fake, bot),
            intents ?? GatewayIntents.Guilds | GatewayIntents.GuildMessages | GatewayIntents.MessageContent,
            FastTimings(), TimeProvider.System, NullLogger<DiscordGatewayClient>.Instance);

    /// <summary>Polls until the condition holds or the timeout passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(20);
        }

        return condition();
    }
}

using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Presentation.DiscordServer;

return await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    // Both bots must share the relay keys; an ephemeral key is never acceptable here.
    builder.Services.AddSingleton(RelayKeyRing.FromOptions(
        builder.Configuration.GetSection(RelayKeyOptions.Section).Get<RelayKeyOptions>() ?? new RelayKeyOptions(),
        allowEphemeralKey: false,
        transport: "Discord"));
    builder.Services.AddSingleton(DiscordOptions.Read(builder.Configuration, needsApplication: true));
    builder.Services.AddHostedService<DiscordConnectionPlan>();
    await builder.Build().RunAsync();
});

using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Presentation.DiscordServer;

return await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.Services.AddSingleton(DiscordOptions.Read(builder.Configuration, needsApplication: true));
    builder.Services.AddHostedService<DiscordConnectionPlan>();
    await builder.Build().RunAsync();
});

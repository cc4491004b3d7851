using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Presentation.DiscordClient;

return await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.Services.AddSingleton(DiscordOptions.Read(builder.Configuration, needsApplication: false));
    builder.Services.AddHostedService<DiscordConnectionPlan>();
    await builder.Build().RunAsync();
});

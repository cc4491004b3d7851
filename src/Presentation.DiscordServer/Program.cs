using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;

return await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordBotShell("Server bot (dispatcher and slash commands)", needsApplication: true);
    await builder.Build().RunAsync();
});

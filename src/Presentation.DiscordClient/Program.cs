using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord;

return await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordBotShell("Client bot (the worker beside llama.cpp)", needsApplication: false);
    await builder.Build().RunAsync();
});

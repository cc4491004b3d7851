using MeatLizard.Infrastructure;
using MeatLizard.Presentation.DiscordServer;

var exitCode = await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordServerBot();
    using var host = builder.Build();
    await host.RunDiscordServerBotAsync();
});

// A fatal Discord error (bad token, intent not enabled) stops the host with its own exit code.
return exitCode != 0 ? exitCode : Environment.ExitCode;

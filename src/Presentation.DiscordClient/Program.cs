using MeatLizard.Infrastructure;
using MeatLizard.Presentation.DiscordClient;

var exitCode = await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordClientBot();
    using var host = builder.Build();
    await host.RunAsync();
});

// A fatal Discord error (bad token, intent not enabled) stops the host with its own exit code.
return exitCode != 0 ? exitCode : Environment.ExitCode;

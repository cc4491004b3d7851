using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Presentation.DiscordClient;

var verbExitCode = 0;
var exitCode = await HostRunner.RunAsync(async () =>
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordClientBot();
    using var host = builder.Build();

    // `doctor`: checks every configured dependency (database, Discord, keys…), one line each, instead of running.
    if (DoctorCommandLine.IsDoctorVerb(args))
    {
        verbExitCode = await DoctorCommandLine.RunAsync(host.Services, Console.Out);
        return;
    }

    HostRunner.CheckConfiguration(host.Services);
    await host.RunAsync();
});

// A fatal Discord error (bad token, intent not enabled) stops the host with its own exit code.
return exitCode != 0 ? exitCode : verbExitCode != 0 ? verbExitCode : Environment.ExitCode;

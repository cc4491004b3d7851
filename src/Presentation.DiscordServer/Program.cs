using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Discord.Setup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Presentation.DiscordServer;

var verbExitCode = 0;
var exitCode = await HostRunner.RunAsync(async () =>
{
    // `setup`: checks the token, intents and permissions, makes the categories and control channel, registers the
    // commands, writes the ids and prints the invite URLs — before any of the relay's settings exist; with `--admin
    // USER`, also makes that web account an admin (or prints the first admin's setup link) in the API's database.
    if (SetupCommandLine.IsSetupVerb(args))
    {
        var (configOut, admin, settings) = SetupCommandLine.Parse(args);
        var setup = Host.CreateApplicationBuilder(settings);
        setup.AddDiscordServerSetup(admin);
        using var setupHost = setup.Build();
        verbExitCode = await setupHost.RunDiscordServerSetupAsync(configOut, Console.Out);
        return;
    }

    var builder = Host.CreateApplicationBuilder(args);
    builder.AddDiscordServerBot();
    using var host = builder.Build();

    // `doctor`: checks every configured dependency (database, Discord, keys…), one line each, instead of running.
    if (DoctorCommandLine.IsDoctorVerb(args))
    {
        verbExitCode = await DoctorCommandLine.RunAsync(host.Services, Console.Out);
        return;
    }

    HostRunner.CheckConfiguration(host.Services);
    await host.RunDiscordServerBotAsync();
});

// A fatal Discord error (bad token, intent not enabled) stops the host with its own exit code.
return exitCode != 0 ? exitCode : verbExitCode != 0 ? verbExitCode : Environment.ExitCode;

using MeatLizard.Application;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Backup;
using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Presentation.Api;

var verbExitCode = 0;
var hostExitCode = await HostRunner.RunAsync(async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddApplicationServices();
    var settings = builder.AddPlatform();
    builder.AddApiServices(settings);

    var app = builder.Build();

    // `backup`, `backups`, `restore KEY`: maintenance on the configured database instead of serving.
    if (BackupCommandLine.IsBackupVerb(args))
    {
        verbExitCode = await BackupCommandLine.RunAsync(args, app.Services, Console.Out, Console.Error);
        return;
    }

    // `doctor`: checks every configured dependency, one line each.
    if (DoctorCommandLine.IsDoctorVerb(args))
    {
        verbExitCode = await DoctorCommandLine.RunAsync(app.Services, Console.Out);
        return;
    }

    HostRunner.CheckConfiguration(app.Services);
    await app.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(app.Lifetime.ApplicationStopping);

    // `admin promote USER`, `admin demote USER`, `admin setup-link`: the first admin, from the command line;
    // `hosts add NAME`, `hosts revoke NAME`, `hosts list`: the direct relay's host tokens.
    if (AdminCommandLine.IsAdminVerb(args))
    {
        verbExitCode = await AdminCommandLine.RunAsync(args, app.Services, app.Configuration["Urls"], Console.Out,
            Console.Error);
        return;
    }

    app.MapApi();
    await using (app)
    {
        await app.StartAsync();
        await AdminCommandLine.PrintSetupLinkAsync(app, Console.Out);
        await app.WaitForShutdownAsync();
    }
});
return hostExitCode != 0 ? hostExitCode : verbExitCode;

/// <summary>Entry point; public so tests can host it.</summary>
public partial class Program;

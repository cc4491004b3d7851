using MeatLizard.Application;
using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Presentation.Api;

return await HostRunner.RunAsync(async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddApplicationServices();
    builder.AddInfrastructureServices(HostRole.Embedded);
    builder.AddApiServices();

    var app = builder.Build();
    await app.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(app.Lifetime.ApplicationStopping);
    app.MapApi();
    await app.RunAsync();
});

/// <summary>Entry point; public so tests can host it.</summary>
public partial class Program;

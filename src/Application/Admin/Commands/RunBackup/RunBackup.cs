using MediatR;
using MeatLizard.Application.Backups;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Backs the database up now (as the schedule does) and says where the backup is.</summary>
public sealed record RunBackup(AdminActor Actor) : AdminCommand<BackupDto>(Actor)
{
    public override string AuditName => "backup";
}

public sealed class RunBackupHandler(IDatabaseBackups backups) : IRequestHandler<RunBackup, BackupDto>
{
    public Task<BackupDto> Handle(RunBackup request, CancellationToken cancellationToken) =>
        backups.CreateAsync(cancellationToken);
}

using MediatR;

namespace MeatLizard.Application.Backups;

/// <summary>One stored backup: its object-store key, when it was made, its size and its SHA-256 (hex).</summary>
public sealed record BackupDto(string Key, DateTimeOffset CreatedAt, long SizeBytes, string Sha256);

/// <summary>Makes a backup now (the scheduler sends it; an admin command can later).</summary>
public sealed record CreateBackup : IRequest<BackupDto>;

public sealed class CreateBackupHandler(IDatabaseBackups backups) : IRequestHandler<CreateBackup, BackupDto>
{
    public Task<BackupDto> Handle(CreateBackup request, CancellationToken cancellationToken) =>
        backups.CreateAsync(cancellationToken);
}

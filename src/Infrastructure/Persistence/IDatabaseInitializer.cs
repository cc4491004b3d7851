namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Brings the database schema up to date; hosts call it once at start-up, before serving.</summary>
public interface IDatabaseInitializer
{
    Task InitializeAsync(CancellationToken cancellationToken);
}

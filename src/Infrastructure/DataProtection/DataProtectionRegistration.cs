using MeatLizard.Infrastructure.Persistence.Postgres;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.DataProtection;

public static class DataProtectionRegistration
{
    /// <summary>
    /// The data-protection key ring (it protects session cookies and access tokens): in PostgreSQL when it is the
    /// database (every API instance shares it), else under Data:Root/keys; encrypted at rest with the key in
    /// <c>DataProtection:KeyFile</c> when one is set. Keys stored before encryption was turned on stay readable;
    /// keys made from then on are encrypted.
    /// </summary>
    public static IServiceCollection AddMeatLizardDataProtection(this IServiceCollection services,
        IConfiguration configuration, InfrastructureSettings settings)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName("MeatLizard");
        if (settings.StorageProvider == StorageProvider.Postgres)
        {
            dataProtection.PersistKeysToPostgres();
        }
        else
        {
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(settings.DataRoot, "keys")));
        }

        var keyFile = configuration[KeyRingEncryptionKey.Setting];
        if (!string.IsNullOrWhiteSpace(keyFile))
        {
            var key = KeyRingEncryptionKey.Load(Path.GetFullPath(keyFile, Directory.GetCurrentDirectory()));
            services.AddSingleton(key);
            services.Configure<KeyManagementOptions>(options => options.XmlEncryptor = new KeyFileXmlEncryptor(key));
        }

        services.AddHostedService<KeyRingCheck>();
        return services;
    }
}

/// <summary>
/// At start-up: says loudly when the key ring is stored unencrypted, and opens every stored key once, so a wrong or
/// missing key file stops the host with one line instead of failing every sign-in later.
/// </summary>
internal sealed class KeyRingCheck(
    IKeyManager keys, IServiceProvider services, ILogger<KeyRingCheck> logger, InfrastructureSettings settings)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<KeyRingEncryptionKey>() is null)
        {
            logger.LogWarning(
                "The data-protection keys (they sign session cookies and access tokens) are stored UNENCRYPTED in {Store}: anyone who can read them, or a backup of them, can sign in as any user. Set {Setting} to a file of 32 random bytes (head -c 32 /dev/urandom > FILE) to encrypt them",
                settings.StorageProvider == StorageProvider.Postgres ? "the PostgreSQL table data_protection_keys" : Path.Combine(settings.DataRoot, "keys"),
                KeyRingEncryptionKey.Setting);
        }

        foreach (var key in keys.GetAllKeys())
        {
            // Reading the descriptor decrypts the key's secret; a ConfigurationException from the decryptor names the setting.
            _ = key.Descriptor;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// The data-protection key ring in PostgreSQL (table <c>data_protection_keys</c>), so every API instance of a
/// deployment protects and reads cookies and access tokens with the same keys. The framework's repository interface is
/// synchronous; it is called when the key ring is loaded or a key is made (rarely), never per request.
/// </summary>
public sealed class PostgresDataProtectionKeys(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand("SELECT xml FROM data_protection_keys ORDER BY created_at");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        using var command = dataSource.CreateCommand("""
            INSERT INTO data_protection_keys (friendly_name, xml, created_at) VALUES ($1, $2, now())
            ON CONFLICT (friendly_name) DO UPDATE SET xml = EXCLUDED.xml
            """);
        command.Parameters.AddWithValue(friendlyName);
        command.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        command.ExecuteNonQuery();
    }
}

public static class PostgresDataProtectionRegistration
{
    /// <summary>Keeps the key ring in the PostgreSQL database registered by <see cref="PostgresPersistenceRegistration"/>.</summary>
    public static IDataProtectionBuilder PersistKeysToPostgres(this IDataProtectionBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(provider =>
            new ConfigureOptions<KeyManagementOptions>(options =>
                options.XmlRepository = new PostgresDataProtectionKeys(provider.GetRequiredService<NpgsqlDataSource>())));
        return builder;
    }
}

using System.Security.Cryptography;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.ObjectStorage;

public static class ObjectStorageRegistration
{
    /// <summary>
    /// <see cref="S3ObjectStore"/> as <see cref="IObjectStore"/> and <see cref="IObjectLinks"/>, from section
    /// <c>ObjectStore:S3</c>. Bucket, endpoint and credentials are checked now: a bad value throws a
    /// <see cref="ConfigurationException"/> naming the key.
    /// </summary>
    public static IServiceCollection AddS3ObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        var options = ReadS3Options(configuration);
        services.AddSingleton<IOptions<S3ObjectStoreOptions>>(Options.Create(options));
        services.AddSingleton<S3ObjectStore>();
        services.AddSingleton<IObjectStore>(p => p.GetRequiredService<S3ObjectStore>());
        services.AddSingleton<IObjectLinks>(p => p.GetRequiredService<S3ObjectStore>());
        return services;
    }

    /// <summary>Signed download links served by the API for the file-system store (key: <c>ObjectStore:LinkKey</c>).</summary>
    public static IServiceCollection AddFileSystemObjectLinks(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var signingKey = ReadLinkKey(configuration["ObjectStore:LinkKey"]);
        services.TryAddSingleton<IClock, SystemClock>();
        services.AddSingleton(p => new FileSystemObjectLinks(signingKey, p.GetRequiredService<IClock>()));
        services.AddSingleton<IObjectLinks>(p => p.GetRequiredService<FileSystemObjectLinks>());
        return services;
    }

    public static S3ObjectStoreOptions ReadS3Options(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new S3ObjectStoreOptions();
        try
        {
            configuration.GetSection(S3ObjectStoreOptions.Section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException(ex.Message);
        }

        const string section = S3ObjectStoreOptions.Section;
        if (string.IsNullOrWhiteSpace(options.Bucket))
        {
            throw new ConfigurationException($"{section}:Bucket is not set; ObjectStore:Provider=S3 needs a bucket name.");
        }

        if (!string.IsNullOrWhiteSpace(options.ServiceUrl)
            && (!Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
        {
            throw new ConfigurationException($"{section}:ServiceUrl '{options.ServiceUrl}' is not an http(s) URL.");
        }

        if (string.IsNullOrWhiteSpace(options.AccessKey) || string.IsNullOrWhiteSpace(options.SecretKey))
        {
            throw new ConfigurationException($"{section}:AccessKey and {section}:SecretKey must both be set.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceUrl) && Amazon.RegionEndpoint.GetBySystemName(options.Region) is null)
        {
            throw new ConfigurationException($"{section}:Region '{options.Region}' is not a known AWS region.");
        }

        return options;
    }

    private static byte[] ReadLinkKey(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return RandomNumberGenerator.GetBytes(32);
        }

        try
        {
            var key = Convert.FromBase64String(value);
            return key.Length >= 16
                ? key
                : throw new ConfigurationException("ObjectStore:LinkKey must be at least 16 bytes (base64).");
        }
        catch (FormatException)
        {
            throw new ConfigurationException("ObjectStore:LinkKey is not valid base64.");
        }
    }
}

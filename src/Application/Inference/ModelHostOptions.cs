using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>
/// Section "Host" (read under its old name "Worker" too, which "Host" overrides key by key: <see cref="HostSections"/>):
/// the model host's name and how it stops.
/// </summary>
public sealed class ModelHostOptions
{
    public const string Section = HostSections.Current;

    /// <summary>The longest a running job may keep the host from stopping.</summary>
    public static readonly TimeSpan MaxDrainDeadline = TimeSpan.FromHours(1);

    /// <summary>
    /// How long running jobs may take to finish when the host stops (SIGTERM, Ctrl-C, low battery); what is still
    /// running then is cancelled and its user told.
    /// </summary>
    public TimeSpan DrainDeadline { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The operator's name for this model host, shown in /workers and the status (default: the machine's name).</summary>
    public string HostName { get; set; } = Environment.MachineName;
}

/// <summary>
/// The model host's settings were once the section "Worker" (docs/glossary.md): both names are read, the old one first,
/// so an operator's existing configuration keeps working and a key under "Host" wins.
/// </summary>
public static class HostSections
{
    public const string Current = "Host";

    public const string Former = "Worker";

    /// <summary>Binds <typeparamref name="TOptions"/> from "Worker", then from "Host".</summary>
    public static OptionsBuilder<TOptions> BindHostSections<TOptions>(this OptionsBuilder<TOptions> builder,
        IConfiguration configuration)
        where TOptions : class =>
        builder.Bind(configuration.GetSection(Former)).Bind(configuration.GetSection(Current));
}

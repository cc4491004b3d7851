namespace MeatLizard.Application.Inference;

/// <summary>Section "Worker": how the worker stops.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

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

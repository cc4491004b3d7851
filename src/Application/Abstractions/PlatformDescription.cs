namespace MeatLizard.Application.Abstractions;

/// <summary>Which adapters this process runs with, for /api/v1/status and the start-up log.</summary>
public sealed record PlatformDescription(
    string Storage, string Cache, string ObjectStore, string Transport, string Engine, bool LocalWorker);

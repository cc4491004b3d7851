namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// The ways between the relay server and the model hosts a distributed fixture runs on, as its parameter
/// (<c>[TestFixtureSource(typeof(RelayTransports), nameof(RelayTransports.Names))]</c>): the server bot over the loopback
/// Discord, or the direct relay (<see cref="ClusterOptions.DirectRelay"/>: the host dials the first API instance, and no
/// Discord runs).
/// </summary>
public static class RelayTransports
{
    public const string Discord = "Discord";

    public const string Direct = "Direct";

    public static string[] Names { get; } = [Discord, Direct];
}

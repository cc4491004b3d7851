namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// The ways between the relay server and the model hosts a distributed fixture runs on, as its parameter
/// (<c>[TestFixtureSource(typeof(RelayTransports), nameof(RelayTransports.Names))]</c>): the server bot over the loopback
/// Discord, the direct relay (<see cref="ClusterOptions.DirectRelay"/>: the host dials the first API instance, and no
/// Discord runs), or the direct relay on both instances (<see cref="ClusterOptions.DirectRelayOnEveryInstance"/>: each
/// relays, the host's dial reaches the first, and what is asked at the second goes to the host through the first).
/// </summary>
public static class RelayTransports
{
    public const string Discord = "Discord";

    public const string Direct = "Direct";

    public const string DirectOnEveryInstance = "DirectOnEveryInstance";

    public static string[] Names { get; } = [Discord, Direct, DirectOnEveryInstance];

    /// <summary>Whether the transport is the direct relay, on one instance or on each.</summary>
    public static bool IsDirect(string transport) => transport != Discord;

    /// <summary><paramref name="options"/> with the relay's way set to <paramref name="transport"/>.</summary>
    public static ClusterOptions On(this ClusterOptions options, string transport) => options with
    {
        DirectRelay = IsDirect(transport),
        DirectRelayOnEveryInstance = transport == DirectOnEveryInstance,
    };
}

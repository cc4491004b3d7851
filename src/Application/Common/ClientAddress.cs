using System.Net;
using System.Net.Sockets;

namespace MeatLizard.Application.Common;

/// <summary>
/// A client's address as the per-IP limits count it: an IPv4 address (also one written as IPv4-mapped IPv6) by
/// itself, an IPv6 address by its first <c>prefixLength</c> bits, so that one network's many addresses — a /64 holds
/// 2^64 — are one client, not an endless supply of fresh ones.
/// </summary>
public static class ClientAddress
{
    public static string RateLimitKey(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bits = Math.Clamp(prefixLength, 0, 128);
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var kept = Math.Clamp(bits - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - kept));
        }

        return $"{new IPAddress(bytes)}/{bits.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}

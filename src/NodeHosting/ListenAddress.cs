using System.Net;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting;

/// <summary>The address a web server (the cost service, the dashboard) binds for a <c>--host</c> value.</summary>
public static class ListenAddress
{
    /// <exception cref="NasInputException">A host name that does not resolve.</exception>
    public static IPAddress Parse(string host)
    {
        if (host == "localhost") return IPAddress.Loopback;
        if (IPAddress.TryParse(host, out var ip)) return ip;
        try
        {
            return Dns.GetHostAddresses(host).First();
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new NasInputException($"--host: cannot resolve '{host}'");
        }
    }
}

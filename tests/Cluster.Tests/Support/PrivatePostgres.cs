using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// A PostgreSQL server of the test's own (initdb in a temporary directory, its own port, trust
/// authentication on loopback), so that a test can stop and start it without disturbing the shared server
/// other tests use. Needs Debian's postgresql binaries (scripts/install-deps.sh); as root it runs them as
/// the postgres user, since PostgreSQL refuses to run as root.
/// </summary>
public sealed class PrivatePostgres : IDisposable
{
    private readonly string _bin;
    private readonly string _data;
    private readonly bool _asPostgres = Environment.UserName == "root";

    public PrivatePostgres()
    {
        _bin = System.IO.Directory.GetDirectories("/usr/lib/postgresql").OrderBy(d => Version.TryParse(Path.GetFileName(d), out var v) ? v : new Version(0, 0)).Last() + "/bin";
        Directory = System.IO.Directory.CreateTempSubdirectory("nas-pg-").FullName;
        _data = Path.Combine(Directory, "data");
        if (_asPostgres) Run("chown", "-R", "postgres:postgres", Directory);
        Port = FreePort();
        Pg("initdb", "-D", _data, "-U", "nascluster", "--auth=trust", "--no-sync", "-E", "UTF8");
        Start();
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>What --db takes: the server's own database (trust: no password).</summary>
    public string Url => $"postgres://nascluster@127.0.0.1:{Port}/postgres";

    public void Start() =>
        Pg("pg_ctl", "-D", _data, "-w", "-l", Path.Combine(Directory, "server.log"), "-o", $"-p {Port} -k {Directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start");

    /// <summary>Fast shutdown: open sessions are ended (the cluster sees its connections drop).</summary>
    public void Stop() => Pg("pg_ctl", "-D", _data, "-w", "-m", "fast", "stop");

    private void Pg(string tool, params string[] args) =>
        Run(_asPostgres ? "runuser" : Path.Combine(_bin, tool), _asPostgres ? ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args] : args);

    private static void Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {output.Result}{error.Result}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            Stop();
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        System.IO.Directory.Delete(Directory, true);
    }
}

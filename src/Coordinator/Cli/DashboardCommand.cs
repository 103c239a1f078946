using System.CommandLine;
using NasCluster.Coordinator.Analysis.Dashboard;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster dashboard</c>: the live, read-only web UI over every experiment in a database.</summary>
internal static class DashboardCommand
{
    public static Command Build()
    {
        var c = new Command("dashboard", "Serve a live, read-only web UI over every experiment in a database (list, and each experiment's report views, updating as trials land) until Ctrl+C.");
        var db = ExperimentCommands.DbOption();
        var port = Options.Int("--port", "Port of the web server (0: any free port, printed on start).", 8265);
        var host = new Option<string>("--host") { Description = "Address to listen on (default 127.0.0.1: loopback only).", DefaultValueFactory = _ => "127.0.0.1" };
        var poll = Options.Int("--poll-ms", "How often the database is checked for new events, ms.", 250);
        var cert = new Option<string?>("--tls-cert") { Description = "Serve HTTPS with this PEM certificate, to clients with a certificate from --tls-ca only (mutual TLS)." };
        var key = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert." };
        var ca = new Option<string?>("--tls-ca") { Description = "The CA (PEM) whose client certificates are accepted." };
        foreach (var o in new Option[] { db, port, host, poll, cert, key, ca }) c.Add(o);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var portValue = p.GetValue(port);
            if (portValue is < 0 or > 65535) throw new NasInputException($"--port must be 0..65535 (got {portValue})");
            var pollMs = p.GetValue(poll);
            if (pollMs is < 20 or > 60_000) throw new NasInputException($"--poll-ms must be 20..60000 (got {pollMs})");
            var target = NodeConfig.ParseDb(p.GetValue(db)!);
            var tls = NasCluster.NodeHosting.Tls.NodeTls.From(p.GetValue(cert), p.GetValue(key), p.GetValue(ca));
            tls?.Load();
            var options = new DashboardOptions { Host = p.GetValue(host)!, Port = portValue, PollInterval = TimeSpan.FromMilliseconds(pollMs), Tls = tls };
            return RunAsync(o, target, options).GetAwaiter().GetResult();
        }));
        return c;
    }

    private static async Task<int> RunAsync(CliOutput o, DatabaseTarget db, DashboardOptions options)
    {
        await using var server = await DashboardServer.StartAsync(db, options);
        o.Out.WriteLine($"dashboard of {db.Display} on {(options.Tls is null ? "http" : "https")}://{options.Host}:{server.Port}/ (read-only" +
                        $"{(options.Tls is null ? "" : ", client certificates from the CA only")}; Ctrl+C stops it)");
        o.Out.Flush();
        using var stop = new StopSignal();
        await stop.Requested;
        await server.StopAsync();
        return ExitCodes.Ok;
    }
}

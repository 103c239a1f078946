using System.Net;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Analysis.Dashboard;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.NodeHosting.Tls;
using NasCluster.Shared.Util;

namespace NasCluster.Cluster.Tests.Security;

/// <summary>
/// Mutual TLS between nodes, with certificates from a CA the test makes: a cluster of such nodes
/// completes a search; a node whose certificate another CA issued, and a node without TLS, cannot join;
/// the dashboard serves HTTPS to clients with the CA's certificates only.
/// </summary>
[Trait("Tier", "slow")]
public sealed class MutualTlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nas-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static Task<ClusterNode> Start(string db, IReadOnlyList<string> roles, NodeTls tls, IReadOnlyList<string>? seeds = null) =>
        ClusterNode.StartAsync(new NodeOptions { Roles = roles, Seeds = seeds ?? [], Db = db, Tls = tls },
            roles.Contains("trainer") ? Nodes.SyntheticTrainer("tls-trainer") : null, Nodes.FastFailover, TimeSpan.FromSeconds(60));

    /// <summary>Completes when the node logs a warning containing <paramref name="text"/>.</summary>
    private static Task<string> Warned(ActorSystem system, string text)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = system.ActorOf(Props.Create(() => new WarningListener(text, seen)));
        system.EventStream.Subscribe(listener, typeof(Warning));
        return seen.Task;
    }

    private sealed class WarningListener : ReceiveActor
    {
        public WarningListener(string text, TaskCompletionSource<string> seen) =>
            Receive<Warning>(w =>
            {
                var message = w.ToString();
                if (message.Contains(text, StringComparison.Ordinal)) seen.TrySetResult(message);
            });
    }

    [Fact]
    public async Task A_cluster_of_nodes_with_the_CAs_certificates_searches_and_nodes_without_one_cannot_join()
    {
        using var db = new TestDatabase("sqlite");
        var ca = new TestCa(_dir);
        await using var coordinator = await Start(db.Url, ["coordinator"], ca.Issue("coordinator"));
        Assert.Equal("akka.ssl.tcp", coordinator.Address.Protocol);
        var seed = Nodes.Seed(coordinator);
        await using var evaluator = await Start(db.Url, ["evaluator"], ca.Issue("evaluator"), [seed]);
        await using var trainer = await Start(db.Url, ["trainer"], ca.Issue("trainer"), [seed]);

        var done = await (await Nodes.StartSearch(coordinator, Specs.Spec("over-tls", trials: 20, batch: 5))).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal((20, 0), (done.Completed, done.Failed));
        Assert.Contains(Journal.Events(db.Target, "over-tls").OfType<Shared.Protocol.ExperimentProtocol.CostRecorded>(), c => c.Node == evaluator.Address.ToString());

        // An intruder with a certificate from another CA, which itself accepts any server: the cluster refuses it.
        var rogue = new TestCa(_dir, "Rogue CA").Issue("intruder");
        var refused = Warned(coordinator.System, "not issued by the cluster's CA");
        var (rogueCert, _) = rogue.Load();
        var config = NodeConfig.Build(new NodeOptions { Roles = ["evaluator"], Seeds = [seed], Db = db.Url, Tls = rogue }, Nodes.FastFailover)
            .WithFallback(Akka.Cluster.Sharding.ClusterSharding.DefaultConfig());
        var intruder = ActorSystem.Create(NodeConfig.SystemName, BootstrapSetup.Create().WithConfig(config)
            .And(new DotNettySslSetup(rogueCert, suppressValidation: true, requireMutualAuthentication: true)));
        try
        {
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(intruder).RegisterOnMemberUp(() => up.TrySetResult());
            var warning = await refused.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Contains("CN=intruder", warning);
            Assert.False(up.Task.IsCompleted);
        }
        finally
        {
            await intruder.Terminate();
        }

        // A node without TLS cannot join either (its join gives up with the reason).
        var plain = await Assert.ThrowsAsync<NasInputException>(() =>
            NodeHost.StartAsync(new NodeOptions { Roles = ["evaluator"], Seeds = [seed], Db = db.Url }, Nodes.FastFailover, TimeSpan.FromSeconds(8)));
        Assert.Contains("could not join", plain.Message);

        var members = Akka.Cluster.Cluster.Get(coordinator.System).State.Members;
        Assert.Equal(3, members.Count);
        Assert.All(members, m => Assert.Equal("akka.ssl.tcp", m.Address.Protocol));
    }

    [Fact]
    public void Half_given_or_foreign_TLS_files_are_refused_with_the_reason_before_any_join()
    {
        var ca = new TestCa(_dir);
        var node = ca.Issue("node");
        var missing = Assert.Throws<NasInputException>(() => NodeTls.From(node.CertificateFile, null, ca.CaFile));
        Assert.Contains("missing --tls-key", missing.Message);
        var foreign = new TestCa(_dir, "Other CA");
        var notIssued = Assert.Throws<NasInputException>(() => (node with { CaFile = foreign.CaFile }).Load());
        Assert.Contains("not issued by the CA", notIssued.Message);
        File.WriteAllText(Path.Combine(_dir, "junk.pem"), "not a certificate");
        var junk = Assert.Throws<NasInputException>(() => (node with { CertificateFile = Path.Combine(_dir, "junk.pem") }).Load());
        Assert.Contains("not a PEM certificate", junk.Message);
        Assert.Null(NodeTls.From(null, null, null));
    }

    [Fact]
    public async Task The_dashboard_serves_HTTPS_with_the_same_files_to_clients_with_the_CAs_certificate_only()
    {
        using var db = new TestDatabase("sqlite");
        Coordinator.Hosting.Database.Prepare(db.Target);
        var ca = new TestCa(_dir);
        var server = ca.Issue("dashboard");
        await using var dashboard = await DashboardServer.StartAsync(db.Target, new DashboardOptions { Port = 0, Tls = server });
        var caCert = X509CertificateLoader.LoadCertificateFromFile(ca.CaFile);
        HttpClient Client(NodeTls? client)
        {
            var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && NodeTls.IssuedBy(cert, caCert),
            };
            if (client is not null) handler.ClientCertificates.Add(client.Load().Certificate);
            return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        }
        var url = $"https://127.0.0.1:{dashboard.Port}/api/experiments";
        using (var ok = Client(ca.Issue("browser")))
            Assert.Equal(HttpStatusCode.OK, (await ok.GetAsync(url)).StatusCode);
        using (var anonymous = Client(null))
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetAsync(url));
        using (var stranger = Client(new TestCa(_dir, "Stranger CA").Issue("stranger")))
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => stranger.GetAsync(url));
    }
}

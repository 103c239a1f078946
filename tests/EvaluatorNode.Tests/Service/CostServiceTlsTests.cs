using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Service;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Tests.Service;

/// <summary>
/// TLS and mutual TLS with certificates this test makes: a CA, a server certificate for 127.0.0.1 and
/// client certificates from that CA and from another one.
/// </summary>
public sealed class CostServiceTlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nascluster-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(8);
        using var cert = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        return cert.CopyWithPrivateKey(key);
    }

    private (string Cert, string Key) WritePem(X509Certificate2 cert, string name)
    {
        var certFile = Path.Combine(_dir, name + ".crt");
        var keyFile = Path.Combine(_dir, name + ".key");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }

    private static GrpcChannel Channel(int port, X509Certificate2 trustedCa, X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(trustedCa);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(new X509Certificate2(certificate));
        };
        if (clientCertificate is not null) handler.SslOptions.ClientCertificates = [clientCertificate];
        return GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler });
    }

    private static async Task<string> Call(GrpcChannel channel) =>
        (await new CostService.CostServiceClient(channel).GetCapabilitiesAsync(new GetCapabilitiesRequest(), deadline: DateTime.UtcNow.AddSeconds(30))).SimulatorVersion;

    [Fact]
    public async Task Tls_serves_clients_that_trust_its_ca_and_plaintext_clients_get_nothing()
    {
        using var ca = Ca("nascluster test ca");
        using var serverCert = Issue(ca, "127.0.0.1", server: true);
        var (cert, key) = WritePem(serverCert, "server");
        await using var server = await CostServer.StartAsync(new CostServerOptions { Port = 0, CertificateFile = cert, KeyFile = key }, new InProcessCostBackend(new LayerCostCache()));
        Assert.True(server.Tls);

        using (var channel = Channel(server.Port, ca)) Assert.Equal(CostModel.Version, await Call(channel));

        // A plaintext HTTP/2 client meets a TLS handshake: the connection fails (Internal or Unavailable,
        // as the client's HTTP stack reports it), and no request is served.
        using var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{server.Port}");
        var e = await Assert.ThrowsAsync<RpcException>(() => Call(plain));
        Assert.Contains("did not complete the HTTP/2 handshake", e.Status.Detail, StringComparison.Ordinal);

        using var other = Ca("someone else");
        using var untrusting = Channel(server.Port, other);
        var f = await Assert.ThrowsAsync<RpcException>(() => Call(untrusting));
        Assert.Contains("remote certificate was rejected", f.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mutual_tls_accepts_only_client_certificates_from_the_configured_ca()
    {
        using var ca = Ca("nascluster test ca");
        using var clientsCa = Ca("nascluster clients ca");
        using var stranger = Ca("stranger ca");
        using var serverCert = Issue(ca, "127.0.0.1", server: true);
        var (cert, key) = WritePem(serverCert, "server");
        var clientCaFile = Path.Combine(_dir, "clients-ca.crt");
        File.WriteAllText(clientCaFile, clientsCa.ExportCertificatePem());
        await using var server = await CostServer.StartAsync(
            new CostServerOptions { Port = 0, CertificateFile = cert, KeyFile = key, ClientCaFile = clientCaFile }, new InProcessCostBackend(new LayerCostCache()));

        using var good = Issue(clientsCa, "nas-client", server: false);
        using (var channel = Channel(server.Port, ca, good)) Assert.Equal(CostModel.Version, await Call(channel));

        using (var anonymous = Channel(server.Port, ca))
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => Call(anonymous));
            Assert.Contains(e.StatusCode, Refused);
        }

        using var forged = Issue(stranger, "nas-client", server: false);
        using var forgedChannel = Channel(server.Port, ca, forged);
        var f = await Assert.ThrowsAsync<RpcException>(() => Call(forgedChannel));
        Assert.Contains(f.StatusCode, Refused);
    }

    /// <summary>
    /// How a client sees a server that rejects its certificate: with TLS 1.3 the client's side of the handshake
    /// completes before the server has checked the client certificate, so the rejection arrives either as a
    /// failed connection (Unavailable) or as the reset of the call's stream (Internal), by timing.
    /// </summary>
    private static readonly StatusCode[] Refused = [StatusCode.Unavailable, StatusCode.Internal];

    [Fact]
    public async Task Bad_tls_options_are_input_errors_naming_the_problem()
    {
        var backend = new InProcessCostBackend(new LayerCostCache());
        var missing = Path.Combine(_dir, "missing.pem");
        var a = await Assert.ThrowsAsync<NasInputException>(() => CostServer.StartAsync(new CostServerOptions { Port = 0, CertificateFile = missing }, backend));
        Assert.Contains("both --tls-cert and --tls-key", a.Message, StringComparison.Ordinal);
        var b = await Assert.ThrowsAsync<NasInputException>(() => CostServer.StartAsync(new CostServerOptions { Port = 0, CertificateFile = missing, KeyFile = missing }, backend));
        Assert.Contains("cannot read the TLS certificate or key", b.Message, StringComparison.Ordinal);
        var c = await Assert.ThrowsAsync<NasInputException>(() => CostServer.StartAsync(new CostServerOptions { Port = 0, ClientCaFile = missing }, backend));
        Assert.Contains("--client-ca (mutual TLS) needs --tls-cert", c.Message, StringComparison.Ordinal);
    }
}

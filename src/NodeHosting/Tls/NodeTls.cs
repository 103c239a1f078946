using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting.Tls;

/// <summary>
/// Mutual TLS from one private CA, the same files for every endpoint of a node: its cluster transport
/// (Akka.Remote over TLS, <c>akka.ssl.tcp://</c>), the cost service and the dashboard. A node presents its
/// certificate (PEM, with its PEM key) and accepts a peer only if the peer presents a certificate that
/// chains to the CA — the CA alone, not the machine's trust store, so a certificate from any other
/// issuer is refused. Host names are not checked: nodes are addressed by IP and port, and a node's
/// certificate names the node, not the address it is reached at.
/// </summary>
public sealed record NodeTls(string CertificateFile, string KeyFile, string CaFile)
{
    /// <summary>All three files or none (null); anything in between is an error naming what is missing.</summary>
    /// <exception cref="NasInputException">Some but not all of the files are given.</exception>
    public static NodeTls? From(string? certificate, string? key, string? ca)
    {
        if (certificate is null && key is null && ca is null) return null;
        var missing = new[] { ("--tls-cert", certificate), ("--tls-key", key), ("--tls-ca", ca) }.Where(x => x.Item2 is null).Select(x => x.Item1).ToList();
        if (missing.Count > 0)
            throw new NasInputException($"mutual TLS needs --tls-cert, --tls-key and --tls-ca (missing {string.Join(", ", missing)})");
        return new NodeTls(certificate!, key!, ca!);
    }

    /// <summary>The node's certificate with its private key, and the CA.</summary>
    /// <exception cref="NasInputException">A file is missing or is not PEM of the right kind.</exception>
    public (X509Certificate2 Certificate, X509Certificate2 Ca) Load()
    {
        foreach (var f in new[] { CertificateFile, KeyFile, CaFile })
            if (!File.Exists(f)) throw new NasInputException("TLS file not found", f);
        X509Certificate2 certificate;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(CertificateFile, KeyFile);
            // Linux's TLS stack wants a key it can export to OpenSSL: round-trip through PKCS#12.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new NasInputException($"not a PEM certificate with its PEM private key: {e.Message}", CertificateFile);
        }
        X509Certificate2 ca;
        try
        {
            ca = X509CertificateLoader.LoadCertificateFromFile(CaFile);
        }
        catch (CryptographicException e)
        {
            throw new NasInputException($"not a CA certificate: {e.Message}", CaFile);
        }
        if (!IssuedBy(certificate, ca))
            throw new NasInputException($"the certificate is not issued by the CA in {CaFile} (or has expired): peers would refuse it", CertificateFile);
        return (certificate, ca);
    }

    /// <summary>A certificate is accepted when it chains to <paramref name="ca"/> and nothing else (revocation not checked: a private CA has no CRL).</summary>
    public static bool IssuedBy(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    /// <summary>The cluster transport's TLS: present the node's certificate, require the peer's (both directions), accept only the CA's.</summary>
    public DotNettySslSetup TransportSetup()
    {
        var (certificate, ca) = Load();
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: (peer, _, remote, _, log) => Accept(peer, ca, remote, log));
    }

    private static bool Accept(X509Certificate2? peer, X509Certificate2 ca, string remote, ILoggingAdapter? log)
    {
        if (peer is null)
        {
            log?.Warning("TLS: {0} presented no certificate; refused", remote);
            return false;
        }
        if (IssuedBy(peer, ca)) return true;
        log?.Warning("TLS: {0} presented a certificate not issued by the cluster's CA ({1}, issued by {2}); refused", remote, peer.Subject, peer.Issuer);
        return false;
    }
}

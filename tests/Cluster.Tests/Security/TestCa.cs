using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NasCluster.NodeHosting.Tls;

namespace NasCluster.Cluster.Tests.Security;

/// <summary>
/// A private certificate authority made by the test, in its own directory: issues node certificates
/// (server and client use, 127.0.0.1) as PEM files, the form the nodes read.
/// </summary>
public sealed class TestCa
{
    private readonly X509Certificate2 _ca;
    private readonly string _directory;

    public TestCa(string directory, string name = "NasCluster test CA")
    {
        _directory = directory;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CaFile = Path.Combine(directory, $"{Slug(name)}.ca.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem());
    }

    public string CaFile { get; }

    /// <summary>A node certificate issued by this CA, written as PEM certificate and key.</summary>
    public NodeTls Issue(string node, string? trustedCaFile = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={node}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(12);
        using var certificate = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(12), serial);
        var cert = Path.Combine(_directory, $"{Slug(node)}.pem");
        var keyFile = Path.Combine(_directory, $"{Slug(node)}.key");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return new NodeTls(cert, keyFile, trustedCaFile ?? CaFile);
    }

    private static string Slug(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) ? c : '-'));
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Service;

/// <summary>How <c>nascluster serve</c> listens. Loopback and plaintext HTTP/2 unless told otherwise.</summary>
public sealed record CostServerOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port (tests); the bound one is <see cref="CostServer.Port"/>.</summary>
    public int Port { get; init; } = 50051;

    /// <summary>PEM certificate (chain) and private key: serve TLS instead of plaintext.</summary>
    public string? CertificateFile { get; init; }
    public string? KeyFile { get; init; }

    /// <summary>PEM CA: require client certificates issued by it (mutual TLS). Needs a certificate.</summary>
    public string? ClientCaFile { get; init; }

    public CostServiceLimits Limits { get; init; } = new();
}

/// <summary>
/// The cost service's host: Kestrel with HTTP/2 only, the CostService, <c>grpc.health.v1</c> and server
/// reflection. Started and stopped by <c>nascluster serve</c> and by tests (port 0).
/// </summary>
public sealed class CostServer : IAsyncDisposable
{
    public const string ServiceName = "nascluster.cost.v1.CostService";

    private readonly WebApplication _app;

    private CostServer(WebApplication app, int port, bool tls)
    {
        _app = app;
        Port = port;
        Tls = tls;
    }

    public int Port { get; }

    public bool Tls { get; }

    /// <exception cref="NasInputException">Bad options (certificate files, host) or the port cannot be bound.</exception>
    public static async Task<CostServer> StartAsync(CostServerOptions o, ICostBackend backend, TextWriter? log = null)
    {
        var address = ListenAddress.Parse(o.Host);
        var (certificate, clientCa) = LoadCertificates(o);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (log is not null) builder.Logging.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.Http2.MaxStreamsPerConnection = 1024;
            k.Listen(address, o.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is null) return;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    if (clientCa is null) return;
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (cert, _, _) => NodeHosting.Tls.NodeTls.IssuedBy(cert, clientCa);
                });
            });
        });
        builder.Services.AddGrpc(g =>
        {
            // The framework refuses far larger messages before they are read; up to this the service
            // itself answers RESOURCE_EXHAUSTED with the limit (RequestSizeInterceptor).
            g.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, 4L * o.Limits.MaxRequestBytes);
            g.MaxSendMessageSize = null;
            g.Interceptors.Add<RequestSizeInterceptor>();
        });
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks(h => h.Services.Map(ServiceName, _ => true))
            .AddCheck("cost-backend", () => backend.Healthy ? HealthCheckResult.Healthy(backend.Mode) : HealthCheckResult.Unhealthy($"{backend.Mode}: no evaluator is up"));
        builder.Services.AddSingleton(backend);
        builder.Services.AddSingleton(o.Limits);
        builder.Services.AddSingleton<PricingRequestDecoder>();
        var app = builder.Build();
        app.MapGrpcService<CostGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new NasInputException($"cannot listen on {o.Host}:{o.Port}: {e.Message}");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("[::]", "localhost", StringComparison.Ordinal)).Port).First();
        return new CostServer(app, bound, certificate is not null);
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static (X509Certificate2? Certificate, X509Certificate2? ClientCa) LoadCertificates(CostServerOptions o)
    {
        if (o.CertificateFile is null != (o.KeyFile is null))
            throw new NasInputException("TLS needs both --tls-cert and --tls-key");
        if (o.ClientCaFile is not null && o.CertificateFile is null)
            throw new NasInputException("--tls-ca/--client-ca (mutual TLS) needs --tls-cert and --tls-key");
        if (o.CertificateFile is null) return (null, null);
        try
        {
            var cert = X509Certificate2.CreateFromPemFile(o.CertificateFile, o.KeyFile);
            var ca = o.ClientCaFile is null ? null : X509CertificateLoader.LoadCertificateFromFile(o.ClientCaFile);
            return (cert, ca);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException or UnauthorizedAccessException)
        {
            throw new NasInputException($"cannot read the TLS certificate or key: {e.Message}");
        }
    }
}

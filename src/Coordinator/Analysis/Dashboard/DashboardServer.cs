using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.NodeHosting.Tls;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Analysis.Dashboard;

/// <summary>How <c>nascluster dashboard</c> listens and how often it looks at the database.</summary>
public sealed record DashboardOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port (tests); the bound one is <see cref="DashboardServer.Port"/>.</summary>
    public int Port { get; init; } = 8265;

    /// <summary>How often the journal's sequence numbers are read (one small query).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>HTTPS with the node's certificate, and only clients whose certificate the CA issued (the same files as the nodes and the cost service).</summary>
    public NodeTls? Tls { get; init; }
}

/// <summary>
/// The live, read-only dashboard over every experiment in a database: Kestrel serving the experiment list,
/// each experiment's report page (the same page and script as <c>nascluster report</c>, fed from
/// <c>/api/experiments/NAME</c>), and server-sent events (<c>/api/events</c>) that tell browsers which
/// experiment's journal grew. It only reads (SQLite opened read-only, PostgreSQL by SELECT), so it runs
/// beside searches without disturbing them. Analysis documents are cached by journal version.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DatabaseTarget _db;
    private readonly DashboardOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Channel<string>, byte> _subscribers = new();
    private readonly ConcurrentDictionary<string, (long Version, string Json)> _documents = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Version, JsonObject Summary)> _summaries = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _building = new(1, 1);
    private IReadOnlyDictionary<string, long> _versions = new Dictionary<string, long>();
    private Task? _watcher;

    private DashboardServer(WebApplication app, DatabaseTarget db, DashboardOptions options)
    {
        _app = app;
        _db = db;
        _options = options;
    }

    public int Port { get; private set; }

    /// <summary>Errors the watcher met reading the database (it keeps trying); the latest, or null.</summary>
    public string? LastError { get; private set; }

    /// <exception cref="NasInputException">The database cannot be read, a bad host, or the port cannot be bound.</exception>
    public static async Task<DashboardServer> StartAsync(DatabaseTarget db, DashboardOptions options)
    {
        var initial = ExperimentStore.Versions(db); // fails now, with the database named, rather than in the browser
        var address = ListenAddress.Parse(options.Host);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        var tls = options.Tls?.Load();
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, options.Port, l =>
        {
            l.Protocols = HttpProtocols.Http1AndHttp2;
            if (tls is not { } t) return;
            l.UseHttps(https =>
            {
                https.ServerCertificate = t.Certificate;
                https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (cert, _, _) => NodeTls.IssuedBy(cert, t.Ca);
            });
        }));
        var app = builder.Build();
        var server = new DashboardServer(app, db, options) { _versions = initial };
        server.Map(app);
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new NasInputException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        server.Port = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("[::]", "localhost", StringComparison.Ordinal)).Port).First();
        server._watcher = Task.Run(() => server.WatchAsync(server._stop.Token));
        return server;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/", () => Results.Content(ReportPage.Resource("dashboard.html").Replace("{{DB}}", System.Net.WebUtility.HtmlEncode(_db.Display), StringComparison.Ordinal),
            "text/html; charset=utf-8"));
        app.MapGet("/experiments/{name}", (string name) =>
        {
            if (!_versions.ContainsKey(name) && !ExperimentStore.Exists(_db, name)) return NotFound(name);
            var page = new StringWriter();
            ReportPage.Write(page, null, $"{name} · NasCluster dashboard", live: name);
            return Results.Content(page.ToString(), "text/html; charset=utf-8");
        });
        app.MapGet("/api/experiments", () => Guarded(() => Results.Content(ListJson(), "application/json")));
        app.MapGet("/api/experiments/{name}", async (string name) =>
        {
            try
            {
                return Results.Content(await DocumentAsync(name), "application/json");
            }
            catch (NasInputException e) when (e.Reason.StartsWith("unknown experiment", StringComparison.Ordinal))
            {
                return NotFound(name);
            }
            catch (NasInputException e)
            {
                return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        app.MapGet("/api/events", EventsAsync);
    }

    private static IResult NotFound(string name) => Results.Json(new { error = $"unknown experiment '{name}'" }, statusCode: StatusCodes.Status404NotFound);

    private static IResult Guarded(Func<IResult> read)
    {
        try
        {
            return read();
        }
        catch (NasInputException e)
        {
            return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Every experiment with its state, progress and best reward (summaries cached by journal version).</summary>
    private string ListJson()
    {
        var versions = ExperimentStore.Versions(_db);
        var list = new JsonArray();
        foreach (var (name, version) in versions.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var condition = ExperimentCondition.Interrupted;
            if (!_summaries.TryGetValue(name, out var cached) || cached.Version != version)
            {
                var x = ExperimentStore.Load(_db, name);
                var t = x.State.Tally();
                var summary = new JsonObject
                {
                    ["name"] = name,
                    ["finished"] = x.State.Finished,
                    ["space"] = x.State.Spec.SpaceSource,
                    ["controller"] = Shared.Protocol.Kinds.Name(x.State.Spec.Controller),
                    ["hardware"] = x.State.Spec.Hardware,
                    ["target"] = x.State.Spec.Trials,
                    ["proposed"] = x.State.Trials.Count,
                    ["completed"] = t.Completed,
                    ["failed"] = t.Failed,
                    ["in_flight"] = t.InFlight,
                    ["best_reward"] = t.BestReward,
                    ["created_unix_ms"] = x.State.CreatedUnixMs,
                };
                cached = (version, summary);
                _summaries[name] = cached;
                condition = x.Condition;
            }
            else condition = ExperimentStore.ConditionOf(_db, name, cached.Summary["finished"]!.GetValue<bool>());
            var row = cached.Summary.DeepClone().AsObject();
            row["state"] = ExperimentAnalysis.ConditionName(condition);
            row["version"] = version;
            list.Add(row);
        }
        return new JsonObject { ["database"] = _db.Display, ["experiments"] = list }.ToJsonString();
    }

    /// <summary>The report's data document of one experiment, rebuilt only when its journal has grown.</summary>
    private async Task<string> DocumentAsync(string name)
    {
        var version = ExperimentStore.Versions(_db).GetValueOrDefault(name, -1);
        if (version < 0) throw new NasInputException($"unknown experiment '{name}'");
        if (_documents.TryGetValue(name, out var cached) && cached.Version == version) return cached.Json;
        await _building.WaitAsync();
        try
        {
            if (_documents.TryGetValue(name, out cached) && cached.Version == version) return cached.Json;
            // The version is read before the ledger: a trial landing in between is in this document already and
            // only makes the next request rebuild once more; a document is never older than its version says.
            var docs = ReportFiles.Analyse(_db, [name]);
            var doc = ReportPage.Document(docs);
            doc["version"] = version;
            var json = doc.ToJsonString();
            _documents[name] = (version, json);
            return json;
        }
        finally
        {
            _building.Release();
        }
    }

    private async Task EventsAsync(HttpContext context)
    {
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });
        _subscribers[channel] = 0;
        try
        {
            await WriteEventAsync(context.Response, "hello", JsonSerializer.Serialize(_versions), context.RequestAborted);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stop.Token);
            while (!linked.IsCancellationRequested)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
                heartbeat.CancelAfter(TimeSpan.FromSeconds(15));
                try
                {
                    var message = await channel.Reader.ReadAsync(heartbeat.Token);
                    await context.Response.WriteAsync(message, linked.Token);
                }
                catch (OperationCanceledException) when (!linked.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", linked.Token);
                }
                await context.Response.Body.FlushAsync(linked.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The browser went away, or the server stops.
        }
        finally
        {
            _subscribers.TryRemove(channel, out _);
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string name, string data, CancellationToken cancel)
    {
        await response.WriteAsync(Event(name, data), cancel);
        await response.Body.FlushAsync(cancel);
    }

    private static string Event(string name, string data) => $"event: {name}\ndata: {data}\n\n";

    /// <summary>Reads the journal's sequence numbers every poll interval and tells every browser what grew.</summary>
    private async Task WatchAsync(CancellationToken cancel)
    {
        using var timer = new PeriodicTimer(_options.PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancel))
            {
                IReadOnlyDictionary<string, long> now;
                try
                {
                    now = ExperimentStore.Versions(_db);
                    LastError = null;
                }
                catch (NasInputException e)
                {
                    LastError = e.Message;
                    Broadcast(Event("database", JsonSerializer.Serialize(new { error = e.Message })));
                    continue;
                }
                foreach (var change in ExperimentChanges.Between(_versions, now))
                    Broadcast(Event("changed", JsonSerializer.Serialize(new { name = change.Name, version = change.Version, appeared = change.Appeared })));
                _versions = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void Broadcast(string message)
    {
        foreach (var subscriber in _subscribers.Keys) subscriber.Writer.TryWrite(message);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_watcher is not null) await _watcher;
        await _app.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        await _app.DisposeAsync();
        _stop.Dispose();
        _building.Dispose();
    }
}

using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Cli;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Architecture;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using TorchSharp;

namespace NasCluster.Cluster.Tests.Export;

/// <summary>
/// A real proxy search (TorchSharp on Fashion-MNIST with a small teacher, so it takes seconds): the trainer
/// keeps weights, the experiment deletes those of trials that leave both Pareto fronts, and
/// <c>export --weights proxy</c> writes the kept trained weights to ONNX, which ONNX Runtime runs to the
/// trained module's numbers; a trial whose weights were not kept, or were changed, is refused.
/// </summary>
[Trait("Tier", "slow")]
public sealed class ProxyWeightsExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nascluster-proxy-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    [Fact]
    public async Task Only_pareto_optimal_weights_are_kept_and_they_export_to_onnx_that_runs_like_the_trained_module()
    {
        torch.set_num_threads(2);
        var db = Path.Combine(_dir, "x.db");
        var weights = Path.Combine(_dir, "weights");
        var environment = new ProxyEnvironment
        {
            TeacherCacheDirectory = Path.Combine(_dir, "teacher"),
            Teacher = new TeacherConfig { Steps = 40, Widths = [8, 16, 32], Seed = 7 },
        };
        var spec = ExperimentSpecs.Build(Specs.Request("proxy", trials: 6, batch: 3) with { Quality = "proxy", ProxySteps = 5, Teacher = environment.Teacher });
        await using (var node = await Nodes.Start(db, ["coordinator", "evaluator", "trainer"], trainer: new TrainerAgentSettings("t", 1, environment, weights)))
        {
            var done = await Nodes.StartSearch(node, spec);
            await done.WaitAsync(TimeSpan.FromMinutes(5));
            // Releases travel as messages to the agent: wait (no fixed sleep) until every released file is gone.
            var ledger = ExperimentStore.Load(NodeConfig.ParseDb(db), "proxy").State;
            await Nodes.Until(() => ledger.Trials.All(t => t.Quality?.WeightsPath is not { } p || WeightsRetention.Kept(ledger, t.Id) == File.Exists(p)),
                TimeSpan.FromSeconds(30), "the weights of dominated trials released");
        }

        var x = ExperimentStore.Load(NodeConfig.ParseDb(db), "proxy");
        var s = x.State;
        var trained = s.Trials.Where(t => t.Quality?.WeightsPath is not null).ToList();
        Assert.NotEmpty(trained);
        foreach (var t in trained)
            Assert.Equal(WeightsRetention.Kept(s, t.Id), File.Exists(t.Quality!.WeightsPath));
        Assert.Contains(trained, t => !WeightsRetention.Kept(s, t.Id)); // six trials, and some left the fronts

        var best = s.Source(s.Best!.Value.Trial);
        var r = Cli("export", "proxy", "--trial", best.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--weights", "proxy", "--db", db, "--out", Path.Combine(_dir, "out"));
        Assert.True(r.Code == 0, r.Err);
        var folder = Path.Combine(_dir, "out", $"proxy-trial{best.Id}");
        var card = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model-card.json"))).RootElement;
        Assert.Contains("trained proxy weights", card.GetProperty("onnx").GetProperty("weights").GetString());

        // The ONNX file computes what the trained module computes on a real validation image.
        var space = NasCluster.Shared.SearchSpace.SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
        var proxy = ProxyScaling.Scale(space.Build(space.FromVector(best.Vector)));
        Assert.Equal(proxy.Hash, card.GetProperty("onnx").GetProperty("architecture_hash").GetString());
        using var module = TrainingLoop.Build(proxy, 0);
        module.load(best.Quality!.WeightsPath!);
        module.eval();
        var shape = proxy.Infos[0].OutputShape;
        var image = NasCluster.TrainerNode.Data.FashionMnist.Load().Validation;
        var input = new float[shape.Channels * shape.Height * shape.Width];
        using (torch.no_grad())
        {
            using var batch = DatasetTensors.Of(image).Images.narrow(0, 0, 1);
            batch.contiguous().data<float>().ToArray().CopyTo(input, 0);
        }
        float[] expected;
        using (torch.no_grad())
        {
            using var xt = torch.tensor(input, [1, shape.Channels, shape.Height, shape.Width]);
            using var y = module.forward(xt);
            expected = y.contiguous().data<float>().ToArray();
        }
        using var session = new InferenceSession(Path.Combine(folder, "model.onnx"));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(),
            new DenseTensor<float>(input, [1, shape.Channels, shape.Height, shape.Width]))]);
        var actual = results.Single().AsEnumerable<float>().ToArray();
        Assert.True(expected.Zip(actual).Max(p => Math.Abs(p.Item1 - p.Item2)) < 1e-4);

        var dropped = trained.First(t => !WeightsRetention.Kept(s, t.Id));
        var refused = Cli("export", "proxy", "--trial", dropped.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--weights", "proxy", "--db", db);
        Assert.Equal(ExitCodes.BadInput, refused.Code);
        Assert.Contains("Pareto-optimal trials only", refused.Err);

        File.AppendAllText(best.Quality.WeightsPath!, "tampered");
        var changed = Cli("export", "proxy", "--trial", best.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--weights", "proxy", "--db", db, "--out", Path.Combine(_dir, "out2"));
        Assert.Equal(ExitCodes.BadInput, changed.Code);
        Assert.Contains("SHA-256 differs", changed.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out2")) && Directory.EnumerateFileSystemEntries(Path.Combine(_dir, "out2")).Any());
    }
}

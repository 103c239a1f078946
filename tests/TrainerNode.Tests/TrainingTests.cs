using System.Security.Cryptography;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

[Collection("torch-real-teacher")]
[Trait("Tier", "slow")]
public class TeacherTests(StrongTeacherFixture fixture)
{
    [Fact]
    public void The_teacher_is_strong_and_cached_under_its_content_hash()
    {
        Assert.True(fixture.Teacher.TestAccuracy >= 0.87, $"teacher test accuracy {fixture.Teacher.TestAccuracy:P2}"); // 88.8 % measured at 300 steps
        Assert.Equal([55000L, 10], fixture.Teacher.TrainLogits.shape);
        var key = Teacher.Key(fixture.Environment.Teacher, fixture.Data);
        Assert.Equal(key, fixture.Teacher.Key);
        Assert.True(File.Exists(Path.Combine(fixture.CacheDirectory, key, "weights.bin")));
        // Another process (here: the machine-wide path, without the in-process memo) loads it instead of training.
        var again = Teacher.LoadOrTrain(fixture.Data, fixture.Environment.Teacher, fixture.CacheDirectory, key, null, default);
        Assert.True(again.FromCache);
        Assert.Equal(fixture.Teacher.TestAccuracy, again.TestAccuracy);
        Assert.True(again.TrainLogits.allclose(fixture.Teacher.TrainLogits));
        // Any change of what determines the weights is a different cache entry.
        Assert.NotEqual(key, Teacher.Key(fixture.Environment.Teacher with { Seed = 8 }, fixture.Data));
        Assert.NotEqual(key, Teacher.Key(fixture.Environment.Teacher with { Steps = fixture.Environment.Teacher.Steps + 1 }, fixture.Data));
    }

    [Fact]
    public async Task Two_trainers_asking_at_once_train_the_teacher_once()
    {
        var dir = Directory.CreateTempSubdirectory("nascluster-teacher-race-").FullName;
        try
        {
            var tiny = new TeacherConfig { Steps = 15, Widths = [4, 4, 8], Seed = 3 };
            var key = Teacher.Key(tiny, fixture.Data);
            using var start = new Barrier(2);
            TeacherArtifacts Race()
            {
                start.SignalAndWait();
                return Teacher.LoadOrTrain(fixture.Data, tiny, dir, key, null, default);
            }
            var a = Task.Run(Race);
            var b = Task.Run(Race);
            var results = await Task.WhenAll(a, b);
            Assert.Equal(1, results.Count(r => !r.FromCache)); // one trained...
            Assert.Equal(1, results.Count(r => r.FromCache));  // ...the other waited and loaded it
            Assert.True(results[0].TrainLogits.allclose(results[1].TrainLogits));
            Assert.Single(Directory.GetDirectories(dir)); // no half-written copies left behind
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

[Collection("torch")]
[Trait("Tier", "slow")]
public class DistillationTests(TorchFixture fixture)
{
    internal static Network Candidate(ulong seed)
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        return space.Build(space.Sample(new DeterministicRng(seed)));
    }

    [Fact]
    public void A_run_is_deterministic_for_a_seed_and_thread_count()
    {
        var net = Candidate(1);
        var config = new TrainingConfig { Steps = 30, Seed = 5 };
        var a = ProxyTrainer.Run(net, config, fixture.Environment);
        var b = ProxyTrainer.Run(net, config, fixture.Environment);
        var c = ProxyTrainer.Run(net, config with { Seed = 6 }, fixture.Environment);
        Assert.True(a.Succeeded, a.FailureReason);
        Assert.Equal((a.Score, a.Loss, a.ValidationLoss), (b.Score, b.Loss, b.ValidationLoss));
        Assert.NotEqual(a.Loss, c.Loss);
        Assert.InRange(a.Score, 0.0, 1.0);
        Assert.True(a.StepsPerSecond > 0 && a.WallSeconds > 0 && a.Steps == 30);
        Assert.Equal(net.Hash, a.ArchitectureHash);
    }

    [Fact]
    public void The_students_weights_can_be_kept_as_a_file_with_its_hash()
    {
        var dir = Directory.CreateTempSubdirectory("nascluster-weights-").FullName;
        try
        {
            var path = Path.Combine(dir, "student.bin");
            var r = ProxyTrainer.Run(Candidate(2), new TrainingConfig { Steps = 5 }, fixture.Environment, saveWeightsTo: path);
            Assert.Equal(Path.GetFullPath(path), r.WeightsPath);
            using var file = File.OpenRead(path);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file)), r.WeightsSha256);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_diverging_or_unbuildable_network_is_a_failed_result_with_a_reason()
    {
        var diverged = ProxyTrainer.Run(Candidate(3), new TrainingConfig { Steps = 40, LearningRate = 1e9 }, fixture.Environment);
        Assert.False(diverged.Succeeded);
        Assert.Contains("diverged", diverged.FailureReason);

        var twoInputs = ProxyTrainer.Run(Untrainable.TwoInputs(), new TrainingConfig { Steps = 5 }, fixture.Environment);
        Assert.False(twoInputs.Succeeded);
        Assert.Contains("cannot build the proxy", twoInputs.FailureReason);
    }
}

/// <summary>The optional parts of the training recipe (off by default): warm-up, gradient clipping, weight averaging.</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public class RecipeOptionTests(TorchFixture fixture)
{
    private Network Proxy(ulong seed) => NasCluster.TrainerNode.Proxy.ProxyScaling.Scale(DistillationTests.Candidate(seed), fixture.Environment.Spec);

    private static TorchSharp.torch.Tensor[] State(NasCluster.TrainerNode.Torch.IrModule m) =>
        TrainingLoop.AveragedState(m).Select(x => x.detach().clone()).ToArray();

    private TorchSharp.torch.Tensor[] Trained(TrainingConfig config, out NasCluster.TrainerNode.Torch.IrModule module)
    {
        module = TrainingLoop.Build(Proxy(4), config.Seed);
        TrainingLoop.Train(module, DatasetTensors.Of(fixture.Data.Validation), null, config, default, null);
        return State(module);
    }

    [Fact]
    public void Warm_up_rises_linearly_to_the_peak_and_then_decays_by_the_cosine()
    {
        var c = new TrainingConfig { Steps = 100, LearningRate = 0.01, WarmupFraction = 0.1 };
        Assert.Equal(0.001, TrainingLoop.LearningRateAt(c, 0), 12);
        Assert.Equal(0.005, TrainingLoop.LearningRateAt(c, 4), 12);
        Assert.Equal(0.01, TrainingLoop.LearningRateAt(c, 9), 12);
        Assert.Equal(0.01 * 0.5 * (1 + Math.Cos(Math.PI * 0.1)), TrainingLoop.LearningRateAt(c, 10), 12);
        Assert.Equal(0.01 * 0.5 * (1 + Math.Cos(Math.PI * 0.99)), TrainingLoop.LearningRateAt(c, 99), 12);
        // Without warm-up the schedule is the cosine from the first step.
        Assert.Equal(0.01, TrainingLoop.LearningRateAt(c with { WarmupFraction = 0 }, 0), 12);
        using var module = TrainingLoop.Build(Proxy(4), 0);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            TrainingLoop.Train(module, DatasetTensors.Of(fixture.Data.Validation), null, c with { WarmupFraction = 1 }, default, null));
    }

    [Fact]
    public void Clipping_bounds_the_gradient_norm_of_every_step()
    {
        static double GradientNorm(NasCluster.TrainerNode.Torch.IrModule m) =>
            Math.Sqrt(m.parameters().Where(p => p.grad is not null).Sum(p => p.grad!.pow(2).sum().item<float>()));
        var config = new TrainingConfig { Steps = 3, DistillationWeight = 0, Seed = 2 };
        Trained(config, out var plain);
        Trained(config with { ClipNorm = 0.05 }, out var clipped);
        using (plain)
        using (clipped)
        {
            // The gradients of the last step are still on the parameters after the optimizer used them.
            Assert.True(GradientNorm(plain) > 0.05, $"unclipped gradient norm {GradientNorm(plain)}");
            Assert.InRange(GradientNorm(clipped), 0, 0.05 * 1.001);
        }
    }

    [Fact]
    public void Weight_averaging_replaces_weights_and_batch_norm_statistics_by_their_average()
    {
        var config = new TrainingConfig { Steps = 20, DistillationWeight = 0, Seed = 3 };
        var plain = Trained(config, out var a);
        // A decay of (almost) zero averages over the last step only: the plain result, tensor for tensor.
        var last = Trained(config with { EmaDecay = 1e-12 }, out var b);
        var averaged = Trained(config with { EmaDecay = 0.9 }, out var c);
        var again = Trained(config with { EmaDecay = 0.9 }, out var d);
        var parameters = a.parameters().Count();
        foreach (var m in new[] { a, b, c, d }) m.Dispose();
        Assert.Equal(plain.Length, averaged.Length);
        Assert.True(plain.Length > parameters, "the batch-norm running statistics are part of the average");
        for (var i = 0; i < plain.Length; i++)
        {
            Assert.True(plain[i].allclose(last[i], rtol: 1e-5, atol: 1e-7), $"tensor {i} differs with a decay of ~0");
            Assert.True(averaged[i].allclose(again[i], rtol: 0, atol: 0), $"tensor {i} is not deterministic");
        }
        // With a real decay the weights and the running statistics (buffers come after the parameters) both move.
        Assert.Contains(Enumerable.Range(0, parameters), i => !plain[i].allclose(averaged[i]));
        Assert.Contains(Enumerable.Range(parameters, plain.Length - parameters), i => !plain[i].allclose(averaged[i]));
    }
}

/// <summary>Distillation's worth needs a strong teacher: a weak one would teach the student little.</summary>
[Collection("torch-real-teacher")]
[Trait("Tier", "slow")]
public class RealDistillationTests(StrongTeacherFixture fixture)
{
    [Fact]
    public void Distillation_learns_the_task()
    {
        var r = ProxyTrainer.Run(ModelZoo.Build("mobilenet-edgetpu-v2-tiny"), new TrainingConfig { Steps = 150, Seed = 1 }, fixture.Environment);
        Assert.True(r.Succeeded, r.FailureReason);
        Assert.True(r.Score > 0.6, $"validation accuracy {r.Score:P1} after 150 steps (chance is 10%)");
    }
}

using System.Diagnostics;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;
using TorchSharp;

namespace NasCluster.Bench;

/// <summary>
/// Where does the proxy's seed-to-seed noise come from, and does a training recipe reduce it? Trains the
/// first N candidates of the proxy bench twice (training seeds 0 and 1) with the given recipe and compares
/// the two runs of each candidate on the validation split (5,000 images, the proxy score) and on the test
/// split (10,000 images, never used by the proxy). If the two runs differ only by which images happen to be
/// in the split, the validation and test differences are unrelated and the difference is about
/// sqrt(d / n) for a disagreement rate d (the share of images exactly one of the two models gets right);
/// if the two trained models really differ in quality, the validation and test differences agree. A recipe
/// that makes the proxy quieter shows a smaller RMS difference at the same wall time. Screening only: the
/// candidates are few, so differences of a few tenths are within the noise of this measurement itself.
/// </summary>
internal static class ProxyNoiseBench
{
    public static int Run(string[] args)
    {
        var count = BenchArgs.Int(args, "--candidates", 8);
        var seed = BenchArgs.Int(args, "--seed", 1);
        var threads = BenchArgs.Int(args, "--threads", Environment.ProcessorCount);
        var defaults = new TrainingConfig();
        var config = defaults with
        {
            Steps = BenchArgs.Int(args, "--steps", defaults.Steps),
            BatchSize = BenchArgs.Int(args, "--batch", defaults.BatchSize),
            LearningRate = BenchArgs.Double(args, "--lr", defaults.LearningRate),
            WarmupFraction = BenchArgs.Double(args, "--warmup", 0),
            ClipNorm = BenchArgs.Double(args, "--clip", 0),
            EmaDecay = BenchArgs.Double(args, "--ema", 0),
        };
        var width = BenchArgs.Double(args, "--width", ProxySpec.Default.WidthMultiplier);
        if (count < 2 || threads < 1 || config.Steps < 1 || config.BatchSize < 1 || config.LearningRate <= 0 || config.ClipNorm < 0
            || config.OptionProblem() is not null || width is <= 0 or > 4)
        {
            Console.Error.WriteLine("proxy-noise: --candidates >= 2; --threads, --steps, --batch >= 1; --lr > 0; --clip >= 0; --warmup and --ema in [0, 1); --width in (0, 4]");
            return 2;
        }
        torch.set_num_threads(threads);
        var environment = new ProxyEnvironment { Spec = ProxySpec.Default with { WidthMultiplier = width } };
        var data = FashionMnist.Load();
        var teacher = Teacher.GetOrTrain(data, environment.Teacher, null, Console.WriteLine);
        var train = DatasetTensors.Of(data.Train);
        var validation = DatasetTensors.Of(data.Validation);
        var test = DatasetTensors.Of(data.Test);
        Console.WriteLine($"proxy noise: {count} candidates of {ProxyBench.SpaceName} (seed {seed}), training seeds 0 and 1, {threads} threads, width {width}");
        Console.WriteLine($"recipe: {config.Recipe}");
        Console.WriteLine($"{"#",3} {"s/run",6}  {"val seed0",9} {"seed1",7} {"diff",6} {"d",6} {"sd",5}   {"test seed0",10} {"seed1",7} {"diff",6} {"sd",5}");

        var valDiffs = new List<double>();
        var testDiffs = new List<double>();
        var valNoise = new List<double>();
        var testNoise = new List<double>();
        var seconds = new List<double>();
        foreach (var (candidate, i) in ProxyBench.Candidates(seed, count).Select((c, i) => (c, i)))
        {
            var proxy = ProxyScaling.Scale(candidate, environment.Spec);
            var runs = new List<(bool[] Val, bool[] Test)>();
            foreach (var trainingSeed in new long[] { 0, 1 })
            {
                var clock = Stopwatch.StartNew();
                using var module = TrainingLoop.Build(proxy, trainingSeed);
                TrainingLoop.Train(module, train, teacher.TrainLogits, config with { Seed = trainingSeed }, default, null);
                runs.Add((Correct(module, validation), Correct(module, test)));
                seconds.Add(clock.Elapsed.TotalSeconds);
            }
            var v = Compare(runs[0].Val, runs[1].Val);
            var t = Compare(runs[0].Test, runs[1].Test);
            valDiffs.Add(v.Diff);
            testDiffs.Add(t.Diff);
            valNoise.Add(v.EvaluationSd);
            testNoise.Add(t.EvaluationSd);
            Console.WriteLine($"{i,3} {seconds[^2..].Average(),6:0.0}  {v.A,9:P2} {v.B,7:P2} {100 * v.Diff,6:+0.00;-0.00} {v.Disagreement,6:P1} {100 * v.EvaluationSd,5:0.00}   " +
                              $"{t.A,10:P2} {t.B,7:P2} {100 * t.Diff,6:+0.00;-0.00} {100 * t.EvaluationSd,5:0.00}");
        }
        static double Rms(List<double> x) => 100 * Math.Sqrt(x.Average(d => d * d));
        Console.WriteLine($"RMS seed-to-seed difference (points): validation {Rms(valDiffs):0.00} (from evaluation alone {Rms(valNoise):0.00}), " +
                          $"test {Rms(testDiffs):0.00} (from evaluation alone {Rms(testNoise):0.00})");
        Console.WriteLine($"validation vs test difference: Pearson {Statistics.Pearson(valDiffs, testDiffs):0.00} (near 1: the two models differ in quality, not in luck on the split)");
        Console.WriteLine($"wall per run {seconds.Average():0.0} s mean, {seconds.Max():0.0} s max");
        return 0;
    }

    private static bool[] Correct(IrModule module, DatasetTensors split)
    {
        using var logits = TrainingLoop.Logits(module, split);
        using var predicted = logits.argmax(1);
        using var right = predicted.eq(split.Labels);
        return right.data<bool>().ToArray();
    }

    /// <summary>Accuracies of two models on one split, their difference, and the sampling noise of that difference given how often they disagree.</summary>
    private static (double A, double B, double Diff, double Disagreement, double EvaluationSd) Compare(bool[] a, bool[] b)
    {
        var n = (double)a.Length;
        var accA = a.Count(x => x) / n;
        var accB = b.Count(x => x) / n;
        var d = Enumerable.Range(0, a.Length).Count(i => a[i] != b[i]) / n;
        return (accA, accB, accA - accB, d, Math.Sqrt(d / n));
    }
}

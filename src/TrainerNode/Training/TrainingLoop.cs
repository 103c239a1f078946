using System.Diagnostics;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Torch;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasCluster.TrainerNode.Training;

/// <summary>A training that produced a non-finite loss.</summary>
public sealed class DivergedException(int step) : Exception($"training diverged: the loss became NaN or infinite at step {step}")
{
    public int Step { get; } = step;
}

/// <summary>
/// The one training loop, used for the teacher (cross-entropy) and for students (cross-entropy plus
/// distillation): fixed step count, Adam, cosine learning-rate decay, seeded batch order from
/// <see cref="DeterministicRng"/>, cancellation between steps, progress every few steps. Optional (off in
/// the default recipe): linear warm-up, gradient-norm clipping, an exponential moving average of the weights.
/// </summary>
public static class TrainingLoop
{
    // Module construction draws initial weights from libtorch's global generator: seed and build under
    // one lock so concurrent trainings in a process still get the weights their seed implies.
    private static readonly Lock InitLock = new();

    public static IrModule Build(NasCluster.Shared.Architecture.Network network, long seed)
    {
        lock (InitLock)
        {
            torch.random.manual_seed(seed);
            return new IrModule(network);
        }
    }

    /// <summary>The learning rate of a step: linear warm-up over the first <see cref="TrainingConfig.WarmupFraction"/> of the steps, then cosine decay.</summary>
    public static double LearningRateAt(TrainingConfig config, int step)
    {
        var warmup = (int)(config.WarmupFraction * config.Steps);
        return step < warmup
            ? config.LearningRate * (step + 1) / warmup
            : config.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / config.Steps));
    }

    /// <summary>
    /// The tensors weight averaging covers, live (not copies): every floating-point tensor of the module,
    /// the parameters first, then the buffers (batch-norm running statistics).
    /// </summary>
    public static Tensor[] AveragedState(IrModule module) =>
        module.parameters().Select(p => (Tensor)p).Concat(module.buffers()).Where(x => x.is_floating_point()).ToArray();

    /// <summary>
    /// Trains <paramref name="module"/> in place; returns the mean loss of the last tenth of the steps and steps/s. The loss is
    /// cross-entropy against the labels (plus distillation when a teacher is given), or a task's own
    /// (<paramref name="taskLoss"/>: of the module's output and the batch's indices into the data; detection).
    /// </summary>
    public static (double Loss, double StepsPerSecond) Train(IrModule module, DatasetTensors data, Tensor? teacherLogits, TrainingConfig config,
        CancellationToken cancel, IProgress<TrainingProgress>? progress, Func<Tensor, Tensor, Tensor>? taskLoss = null)
    {
        if (config.OptionProblem() is { } problem) throw new ArgumentOutOfRangeException(nameof(config), problem);
        module.train();
        var optimizer = optim.Adam(module.parameters(), config.LearningRate);
        var rng = new DeterministicRng(unchecked((ulong)config.Seed * 0x9E3779B97F4A7C15UL + 1));
        var n = (int)data.Count;
        var batch = Math.Min(config.BatchSize, n); // a small dataset of the user's: the whole split per step at most
        var order = Enumerable.Range(0, n).ToArray();
        var position = n;
        var tail = Math.Max(1, config.Steps / 10);
        var tailLoss = 0.0;
        var clock = Stopwatch.StartNew();
        var t = config.Temperature;
        var live = AveragedState(module);
        var ema = config.EmaDecay > 0 ? live.Select(x => x.detach().clone()).ToArray() : null;
        try
        {
            for (var step = 0; step < config.Steps; step++)
            {
                cancel.ThrowIfCancellationRequested();
                if (position + batch > n)
                {
                    for (var i = n - 1; i > 0; i--)
                    {
                        var j = rng.NextInt(i + 1);
                        (order[i], order[j]) = (order[j], order[i]);
                    }
                    position = 0;
                }
                var lr = LearningRateAt(config, step);
                foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                double lossValue;
                using (var scope = torch.NewDisposeScope())
                {
                    var index = torch.tensor(order.AsSpan(position, batch).ToArray().Select(i => (long)i).ToArray());
                    position += batch;
                    var x = data.Images.index_select(0, index);
                    optimizer.zero_grad();
                    Tensor loss;
                    if (taskLoss is not null) loss = taskLoss(module.forward(x), index);
                    else
                    {
                        var logits = Predictions(module.forward(x));
                        loss = F.cross_entropy(logits, data.Labels.index_select(0, index).to_type(ScalarType.Int64));
                        if (teacherLogits is not null && config.DistillationWeight > 0)
                        {
                            var teacher = F.log_softmax(teacherLogits.index_select(0, index) / t, 1);
                            var student = F.log_softmax(logits / t, 1);
                            var kl = (teacher.exp() * (teacher - student)).sum(1).mean();
                            loss = loss + kl * (config.DistillationWeight * t * t);
                        }
                    }
                    lossValue = loss.item<float>();
                    if (!double.IsFinite(lossValue)) throw new DivergedException(step);
                    loss.backward();
                    if (config.ClipNorm > 0) nn.utils.clip_grad_norm_(module.parameters(), config.ClipNorm);
                    optimizer.step();
                }
                if (ema is not null)
                    using (torch.no_grad())
                    {
                        var d = Math.Min(config.EmaDecay, (1.0 + step) / (10.0 + step));
                        for (var i = 0; i < ema.Length; i++) ema[i].mul_(d).add_(live[i], alpha: 1 - d);
                    }
                if (step >= config.Steps - tail) tailLoss += lossValue / tail;
                if (progress is not null && ((step + 1) % config.ProgressEvery == 0 || step + 1 == config.Steps))
                    progress.Report(new TrainingProgress(step + 1, config.Steps, lossValue, clock.Elapsed.TotalSeconds));
            }
            if (ema is not null)
                using (torch.no_grad())
                    for (var i = 0; i < ema.Length; i++) live[i].copy_(ema[i]);
        }
        finally
        {
            // Also when the training diverges or is cancelled: the averaged copies are not in any dispose scope.
            foreach (var copy in ema ?? []) copy.Dispose();
        }
        return (tailLoss, config.Steps / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
    }

    /// <summary>Accuracy and mean cross-entropy on a split, in evaluation mode (batch-norm running statistics).</summary>
    public static (double Accuracy, double Loss) Evaluate(IrModule module, DatasetTensors data, int batch = 1000)
    {
        module.eval();
        long correct = 0;
        double loss = 0;
        using (torch.no_grad())
        {
            for (long start = 0; start < data.Count; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                var len = Math.Min(batch, data.Count - start);
                var logits = Predictions(module.forward(data.Images.narrow(0, start, len)));
                var y = data.Labels.narrow(0, start, len).to_type(ScalarType.Int64);
                correct += logits.argmax(1).eq(y).sum().item<long>();
                loss += F.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            }
        }
        return ((double)correct / data.Count, loss / data.Count);
    }

    /// <summary>
    /// A classifier's 1×1 logits as [batch, classes]; a dense prediction (per-pixel logits, [batch, classes, H, W])
    /// as it is: cross-entropy and argmax over dimension 1 serve both.
    /// </summary>
    private static Tensor Predictions(Tensor output) =>
        output.dim() == 4 && output.shape[2] == 1 && output.shape[3] == 1 ? output.flatten(1) : output;

    /// <summary>
    /// The confusion matrix [truth, predicted] over every pixel of a split of scenes, and the mean per-pixel
    /// cross-entropy, in evaluation mode (<see cref="SegmentationMetrics"/> turns it into mIoU).
    /// </summary>
    public static (long[,] Confusion, double Loss) Confusion(IrModule module, DatasetTensors data, int classes, int batch = 100)
    {
        module.eval();
        var counts = new long[classes * classes];
        double loss = 0;
        long pixels = 0;
        using (torch.no_grad())
        {
            for (long start = 0; start < data.Count; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                var len = Math.Min(batch, data.Count - start);
                var logits = Predictions(module.forward(data.Images.narrow(0, start, len)));
                var y = data.Labels.narrow(0, start, len).to_type(ScalarType.Int64);
                loss += F.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                pixels += y.numel();
                var pairs = (y * classes + logits.argmax(1)).flatten();
                var bins = torch.bincount(pairs, minlength: classes * classes).data<long>().ToArray();
                for (var i = 0; i < counts.Length; i++) counts[i] += bins[i];
            }
        }
        var confusion = new long[classes, classes];
        for (var t = 0; t < classes; t++)
            for (var p = 0; p < classes; p++)
                confusion[t, p] = counts[t * classes + p];
        return (confusion, loss / Math.Max(1, pixels));
    }

    /// <summary>Logits of <paramref name="module"/> on a whole split (the teacher's soft targets).</summary>
    public static Tensor Logits(IrModule module, DatasetTensors data, int batch = 1000)
    {
        module.eval();
        using var outer = torch.NewDisposeScope();
        var parts = new List<Tensor>();
        using (torch.no_grad())
            for (long start = 0; start < data.Count; start += batch)
            {
                // Each batch's intermediate activations die with its scope; only the logits move out.
                using var scope = torch.NewDisposeScope();
                parts.Add(module.forward(data.Images.narrow(0, start, Math.Min(batch, data.Count - start))).flatten(1).MoveToOuterDisposeScope());
            }
        return torch.cat(parts, 0).DetachFromDisposeScope();
    }
}

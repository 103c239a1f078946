using NasCluster.EvaluatorNode.Cost;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>A published device latency the simulator is calibrated to.</summary>
public sealed record CalibrationPoint(string Model, double PublishedMs, string Source);

/// <summary>How well a linear map of simulated latencies reproduces published ones.</summary>
public sealed record CalibrationResult(double Slope, double InterceptMs, double Pearson, double Spearman, double Mape,
    IReadOnlyList<(CalibrationPoint Point, double SimulatedMs, double PredictedMs)> Rows);

/// <summary>
/// Calibration of a preset: at most a linear map latency = slope · simulated + intercept, fitted by
/// least squares. The only calibration data is edgetpu.md §3.1 (Pixel 6 latencies of
/// MobileNetEdgeTPUv2 Tiny…L and MobileNetEdgeTPU dm1.0); per-model latencies of other devices are kept
/// aside for validation and never fitted.
/// </summary>
public static class Calibration
{
    private const string Pixel6Source = "tensorflow/models official/projects/edgetpu/vision/README.md (edgetpu.md §3.1)";

    public static readonly IReadOnlyList<CalibrationPoint> Pixel6 =
    [
        new("mobilenet-edgetpu-v2-tiny", 0.78, Pixel6Source),
        new("mobilenet-edgetpu-v2-xs", 0.82, Pixel6Source),
        new("mobilenet-edgetpu-v2-s", 1.03, Pixel6Source),
        new("mobilenet-edgetpu-v2-m", 1.35, Pixel6Source),
        new("mobilenet-edgetpu-v2-l", 1.64, Pixel6Source),
        new("mobilenet-edgetpu", 0.92, Pixel6Source),
    ];

    /// <summary>
    /// Simulates every point on <paramref name="hw"/> with its calibration removed and fits the map to what
    /// the accelerator accounts for: the published latency less the modelled host costs (input and output
    /// transfer, runtime overhead, CPU ops); the intercept is then the fixed cost per invocation the model
    /// does not know.
    /// </summary>
    public static CalibrationResult Fit(HardwareConfig hw, IReadOnlyList<CalibrationPoint> points, Fidelity fidelity = Fidelity.Analytical)
    {
        var raw = hw with { CalibrationSlope = 1, CalibrationInterceptMs = 0 };
        var reports = points.Select(p => CostModel.Estimate(ModelZoo.Build(p.Model), raw, fidelity)).ToArray();
        var simulated = reports.Select(r => r.SimulatedMs).ToArray();
        var host = reports.Select(r => r.Host.TotalMs).ToArray();
        var (slope, intercept) = LeastSquares(simulated, points.Select((p, i) => p.PublishedMs - host[i]).ToArray());
        return Evaluate(points, simulated, simulated.Select((s, i) => slope * s + intercept + host[i]).ToArray(), slope, intercept);
    }

    /// <summary>How the map stored in <paramref name="hw"/> reproduces the points.</summary>
    public static CalibrationResult Check(HardwareConfig hw, IReadOnlyList<CalibrationPoint> points, Fidelity fidelity = Fidelity.Analytical)
    {
        var reports = points.Select(p => CostModel.Estimate(ModelZoo.Build(p.Model), hw, fidelity)).ToArray();
        return Evaluate(points, reports.Select(r => r.SimulatedMs).ToArray(), reports.Select(r => r.LatencyMs).ToArray(), hw.CalibrationSlope, hw.CalibrationInterceptMs);
    }

    private static CalibrationResult Evaluate(IReadOnlyList<CalibrationPoint> points, double[] simulated, double[] predicted, double slope, double intercept)
    {
        var published = points.Select(p => p.PublishedMs).ToArray();
        var mape = published.Zip(predicted, (a, b) => Math.Abs(b - a) / a).Average();
        var rows = points.Select((p, i) => (p, simulated[i], predicted[i])).ToList();
        return new CalibrationResult(slope, intercept, Statistics.Pearson(simulated, published), Statistics.Spearman(simulated, published), mape, rows);
    }

    public static (double Slope, double Intercept) LeastSquares(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var mx = x.Average();
        var my = y.Average();
        var sxy = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        var sxx = x.Sum(a => (a - mx) * (a - mx));
        var slope = sxx == 0 ? 1 : sxy / sxx;
        return (slope, my - slope * mx);
    }
}

/// <summary>Correlation statistics used by calibration, validation and the benchmarks.</summary>
public static class Statistics
{
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Count < 2) throw new ArgumentException("need two equally long series of at least 2 values");
        var mx = x.Average();
        var my = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }

    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));

    /// <summary>Ranks with ties given their average rank.</summary>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]]) j++;
            var rank = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }

    /// <summary>Kendall's τ-b.</summary>
    public static double KendallTau(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        long concordant = 0, discordant = 0, tiesX = 0, tiesY = 0;
        for (var i = 0; i < x.Count; i++)
            for (var j = i + 1; j < x.Count; j++)
            {
                var dx = Math.Sign(x[i] - x[j]);
                var dy = Math.Sign(y[i] - y[j]);
                if (dx == 0 && dy == 0) continue;
                if (dx == 0) tiesX++;
                else if (dy == 0) tiesY++;
                else if (dx == dy) concordant++;
                else discordant++;
            }
        var n0 = concordant + discordant;
        return (concordant - discordant) / Math.Sqrt((double)(n0 + tiesX) * (n0 + tiesY));
    }
}

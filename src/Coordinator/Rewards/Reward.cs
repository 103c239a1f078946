using System.Globalization;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Rewards;

/// <summary>A cost a reward can trade quality against.</summary>
public enum CostMetric { LatencyMs, EnergyMj, Params }

/// <summary>What a trial measured: its quality (proxy score) and its costs.</summary>
public sealed record TrialMeasurement(double Quality, double LatencyMs, double EnergyMj, long Params)
{
    public double Cost(CostMetric m) => m switch
    {
        CostMetric.LatencyMs => LatencyMs,
        CostMetric.EnergyMj => EnergyMj,
        _ => Params,
    };
}

/// <summary>A target for one cost: T0 in the metric's unit.</summary>
public sealed record CostTarget(CostMetric Metric, double Target)
{
    public static string Name(CostMetric m) => m switch
    {
        CostMetric.LatencyMs => "latency_ms",
        CostMetric.EnergyMj => "energy_mj",
        _ => "params",
    };
}

/// <summary>How quality and costs combine.</summary>
public enum RewardKind
{
    /// <summary>Quality only.</summary>
    Quality,

    /// <summary>MnasNet soft constraint: Q · Π (T/T0)^w.</summary>
    Mnas,

    /// <summary>TuNAS absolute reward: Q + Σ β·|T/T0 − 1|.</summary>
    Tunas,

    /// <summary>Hard constraints: Q when every T ≤ T0, else the infeasible reward.</summary>
    Hard,
}

/// <summary>
/// The search objective. MnasNet's Q·(T/T0)^w rewards being under the target a little and over it by a
/// little more each step (w = −0.07); TuNAS's Q + β·|T/T0 − 1| pulls every architecture towards the
/// target (β &lt; 0); hard constraints reject anything over a target. Several targets combine: the
/// Mnas factors multiply, the TuNAS penalties add, hard constraints must all hold.
/// </summary>
public sealed record RewardFunction(RewardKind Kind, IReadOnlyList<CostTarget> Targets, double W = -0.07, double Beta = -0.07, double InfeasibleReward = 0.0)
{
    public static RewardFunction QualityOnly { get; } = new(RewardKind.Quality, []);

    public double Reward(TrialMeasurement m)
    {
        switch (Kind)
        {
            case RewardKind.Quality:
                return m.Quality;
            case RewardKind.Mnas:
            {
                var r = m.Quality;
                foreach (var t in Targets) r *= Math.Pow(m.Cost(t.Metric) / t.Target, W);
                return r;
            }
            case RewardKind.Tunas:
            {
                var r = m.Quality;
                foreach (var t in Targets) r += Beta * Math.Abs(m.Cost(t.Metric) / t.Target - 1);
                return r;
            }
            default:
                return Targets.All(t => m.Cost(t.Metric) <= t.Target) ? m.Quality : InfeasibleReward;
        }
    }

    /// <summary>Whether the measurement meets every target (for reports; soft rewards still rank infeasible ones).</summary>
    public bool Feasible(TrialMeasurement m) => Targets.All(t => m.Cost(t.Metric) <= t.Target);

    public string Describe()
    {
        string T(CostTarget t) => $"{CostTarget.Name(t.Metric)}/{t.Target.ToString("0.###", CultureInfo.InvariantCulture)}";
        return Kind switch
        {
            RewardKind.Quality => "Q",
            RewardKind.Mnas => "Q" + string.Concat(Targets.Select(t => $" * ({T(t)})^{W.ToString("0.###", CultureInfo.InvariantCulture)}")),
            RewardKind.Tunas => "Q" + string.Concat(Targets.Select(t => $" {(Beta < 0 ? "-" : "+")} {Math.Abs(Beta).ToString("0.###", CultureInfo.InvariantCulture)}*|{T(t)} - 1|")),
            _ => "Q if " + string.Join(" and ", Targets.Select(t => $"{CostTarget.Name(t.Metric)} <= {t.Target.ToString("0.###", CultureInfo.InvariantCulture)}")) + $", else {InfeasibleReward}",
        };
    }

    /// <summary>
    /// Builds the objective from the command-line options: <c>--objective quality|mnas|tunas|hard</c>
    /// and one or more of <c>--latency-target-ms</c>, <c>--energy-target-mj</c>, <c>--params-target</c>.
    /// </summary>
    /// <exception cref="NasInputException">Unknown objective, a cost objective without a target, a non-positive target.</exception>
    public static RewardFunction Parse(string objective, double? latencyTargetMs, double? energyTargetMj, double? paramsTarget,
        double? w = null, double? beta = null)
    {
        var targets = new List<CostTarget>();
        void Add(CostMetric m, double? v, string option)
        {
            if (v is null) return;
            if (!(v > 0) || !double.IsFinite(v.Value)) throw new NasInputException($"{option} must be a positive number (got {v})");
            targets.Add(new CostTarget(m, v.Value));
        }
        Add(CostMetric.LatencyMs, latencyTargetMs, "--latency-target-ms");
        Add(CostMetric.EnergyMj, energyTargetMj, "--energy-target-mj");
        Add(CostMetric.Params, paramsTarget, "--params-target");
        var kind = objective switch
        {
            "quality" => RewardKind.Quality,
            "mnas" => RewardKind.Mnas,
            "tunas" => RewardKind.Tunas,
            "hard" => RewardKind.Hard,
            _ => throw new NasInputException($"unknown objective '{objective}' (objectives: quality, mnas, tunas, hard)"),
        };
        if (kind != RewardKind.Quality && targets.Count == 0)
            throw new NasInputException($"objective '{objective}' needs a target: --latency-target-ms, --energy-target-mj and/or --params-target");
        if (kind == RewardKind.Quality && targets.Count > 0)
            throw new NasInputException("objective 'quality' ignores costs; choose mnas, tunas or hard to use a target");
        return new RewardFunction(kind, targets, w ?? -0.07, beta ?? -0.07);
    }
}

using System.Text.Json;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Search;

/// <summary>
/// The paper's RL controller (REINFORCE, as in MnasNet / TuNAS): one categorical distribution per
/// decision, softmax(logits / temperature), sampled jointly. After each batch of rewards it ascends
/// E[advantage · ∇ log π] + entropy_weight · ∇ H with Adam; advantages are rewards minus a moving-average
/// baseline, divided by the batch's reward spread so the step size does not depend on the reward's
/// scale. Logits, Adam moments, the baseline and the random generator are all part of the exported state.
/// </summary>
public sealed class ReinforceController : ISearchController
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly Space _space;
    private readonly ControllerOptions _options;
    private readonly DeterministicRng _rng;
    private readonly double[][] _logits;
    private readonly double[][] _m;
    private readonly double[][] _v;
    private long _step;
    private double? _baseline;

    internal ReinforceController(Space space, ControllerOptions options, DeterministicRng rng)
    {
        if (options.LearningRate <= 0 || options.Temperature <= 0 || options.EntropyWeight < 0 || options.BaselineDecay is < 0 or >= 1)
            throw new NasInputException("REINFORCE needs a positive learning rate and temperature, a non-negative entropy weight and a baseline decay in [0, 1)");
        _space = space;
        _options = options;
        _rng = rng;
        _logits = space.Decisions.Select(d => new double[d.Choices.Length]).ToArray();
        _m = space.Decisions.Select(d => new double[d.Choices.Length]).ToArray();
        _v = space.Decisions.Select(d => new double[d.Choices.Length]).ToArray();
    }

    public ControllerKind Kind => ControllerKind.Reinforce;

    /// <summary>The current choice probabilities per decision.</summary>
    public double[][] Probabilities() => _logits.Select(Softmax).ToArray();

    public double? Baseline => _baseline;

    public IReadOnlyList<Candidate> Propose(int count)
    {
        var probabilities = Probabilities();
        var result = new List<Candidate>(count);
        for (var n = 0; n < count; n++)
        {
            var vector = new int[probabilities.Length];
            for (var d = 0; d < probabilities.Length; d++)
            {
                var u = _rng.NextDouble();
                var k = 0;
                for (var acc = probabilities[d][0]; u >= acc && k < probabilities[d].Length - 1; acc += probabilities[d][++k]) { }
                vector[d] = k;
            }
            result.Add(_space.FromVector(vector));
        }
        return result;
    }

    public void Observe(IReadOnlyList<Observation> observations)
    {
        if (observations.Count == 0) return;
        var rewards = observations.Select(o => o.Reward).ToArray();
        var mean = rewards.Average();
        var spread = rewards.Length > 1 ? Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / rewards.Length) : 0;
        var baseline = _baseline ?? mean;
        var scale = spread > 1e-12 ? spread : Math.Max(Math.Abs(baseline), 1e-12);
        var tau = _options.Temperature;
        var probabilities = Probabilities();
        _step++;
        for (var d = 0; d < _logits.Length; d++)
        {
            var p = probabilities[d];
            var grad = new double[p.Length];
            foreach (var o in observations)
            {
                var advantage = (o.Reward - baseline) / scale / observations.Count;
                var chosen = o.Candidate.Vector[d];
                for (var k = 0; k < p.Length; k++) grad[k] += advantage * ((k == chosen ? 1 : 0) - p[k]) / tau;
            }
            if (_options.EntropyWeight > 0)
            {
                var entropy = -p.Sum(x => x > 0 ? x * Math.Log(x) : 0);
                for (var k = 0; k < p.Length; k++)
                    if (p[k] > 0) grad[k] += _options.EntropyWeight * -(p[k] * (Math.Log(p[k]) + entropy)) / tau;
            }
            // Adam, ascending the objective.
            for (var k = 0; k < p.Length; k++)
            {
                _m[d][k] = Beta1 * _m[d][k] + (1 - Beta1) * grad[k];
                _v[d][k] = Beta2 * _v[d][k] + (1 - Beta2) * grad[k] * grad[k];
                var mHat = _m[d][k] / (1 - Math.Pow(Beta1, _step));
                var vHat = _v[d][k] / (1 - Math.Pow(Beta2, _step));
                _logits[d][k] += _options.LearningRate * mHat / (Math.Sqrt(vHat) + Epsilon);
            }
        }
        _baseline = _options.BaselineDecay * baseline + (1 - _options.BaselineDecay) * mean;
    }

    private double[] Softmax(double[] logits)
    {
        var max = logits.Max() / _options.Temperature;
        var e = logits.Select(l => Math.Exp(l / _options.Temperature - max)).ToArray();
        var sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    public string ExportState() =>
        JsonSerializer.Serialize(new State(_options, _rng.State, _logits, _m, _v, _step, _baseline), Controllers.Json);

    internal static ReinforceController Restore(Space space, string json)
    {
        var s = JsonSerializer.Deserialize<State>(json, Controllers.Json) ?? throw new NasInputException("empty REINFORCE state");
        var shape = space.Decisions.Select(d => d.Choices.Length).ToArray();
        if (s.Logits.Length != shape.Length || s.Logits.Where((l, i) => l.Length != shape[i]).Any())
            throw new NasInputException("the saved REINFORCE state does not match the search space's decisions");
        var c = new ReinforceController(space, s.Options, DeterministicRng.FromState(s.Rng)) { _step = s.Step, _baseline = s.Baseline };
        for (var d = 0; d < shape.Length; d++)
        {
            s.Logits[d].CopyTo(c._logits[d], 0);
            s.M[d].CopyTo(c._m[d], 0);
            s.V[d].CopyTo(c._v[d], 0);
        }
        return c;
    }

    private sealed record State(ControllerOptions Options, ulong[] Rng, double[][] Logits, double[][] M, double[][] V, long Step, double? Baseline);
}

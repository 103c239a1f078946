using System.Text.Json;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Search;

/// <summary>
/// Regularized ("ageing") evolution (Real et al. 2019): the first <c>PopulationSize</c> proposals are
/// uniform; afterwards each proposal picks <c>TournamentSize</c> members of the population at random,
/// takes the best as parent and changes one of its decisions to another choice. Every observed child
/// joins the population and the oldest member leaves, so an old lucky architecture cannot dominate
/// forever.
/// </summary>
public sealed class RegularizedEvolution : ISearchController
{
    private readonly Space _space;
    private readonly ControllerOptions _options;
    private readonly DeterministicRng _rng;
    private readonly List<(int[] Vector, double Reward)> _population = [];
    private int _initialRemaining;

    internal RegularizedEvolution(Space space, ControllerOptions options, DeterministicRng rng)
    {
        if (options.PopulationSize < 2 || options.TournamentSize < 1 || options.TournamentSize > options.PopulationSize)
            throw new NasInputException("evolution needs a population of at least 2 and a tournament size between 1 and the population size");
        _space = space;
        _options = options;
        _rng = rng;
        _initialRemaining = options.PopulationSize;
    }

    public ControllerKind Kind => ControllerKind.Evolution;

    public int PopulationCount => _population.Count;

    public IReadOnlyList<Candidate> Propose(int count)
    {
        var result = new List<Candidate>(count);
        for (var n = 0; n < count; n++)
        {
            if (_initialRemaining > 0 || _population.Count == 0)
            {
                if (_initialRemaining > 0) _initialRemaining--;
                result.Add(_space.Sample(_rng));
                continue;
            }
            var parent = _population[_rng.NextInt(_population.Count)];
            for (var t = 1; t < _options.TournamentSize; t++)
            {
                var challenger = _population[_rng.NextInt(_population.Count)];
                if (challenger.Reward > parent.Reward) parent = challenger;
            }
            result.Add(_space.FromVector(Mutate(parent.Vector)));
        }
        return result;
    }

    private int[] Mutate(int[] parent)
    {
        var child = (int[])parent.Clone();
        var mutable = Enumerable.Range(0, child.Length).Where(d => _space.Decisions[d].Choices.Length > 1).ToArray();
        if (mutable.Length == 0) return child;
        var d = mutable[_rng.NextInt(mutable.Length)];
        var other = _rng.NextInt(_space.Decisions[d].Choices.Length - 1);
        child[d] = other >= child[d] ? other + 1 : other;
        return child;
    }

    public void Observe(IReadOnlyList<Observation> observations)
    {
        foreach (var o in observations)
        {
            _population.Add((o.Candidate.Vector.ToArray(), o.Reward));
            if (_population.Count > _options.PopulationSize) _population.RemoveAt(0);
        }
    }

    public string ExportState() => JsonSerializer.Serialize(
        new State(_options, _rng.State, _population.Select(p => new Member(p.Vector, p.Reward)).ToList(), _initialRemaining), Controllers.Json);

    internal static RegularizedEvolution Restore(Space space, string json)
    {
        var s = JsonSerializer.Deserialize<State>(json, Controllers.Json) ?? throw new NasInputException("empty evolution state");
        var e = new RegularizedEvolution(space, s.Options, DeterministicRng.FromState(s.Rng)) { _initialRemaining = s.InitialRemaining };
        foreach (var m in s.Population)
        {
            if (m.Vector.Length != space.Decisions.Length) throw new NasInputException("the saved evolution state does not match the search space");
            e._population.Add((m.Vector, m.Reward));
        }
        return e;
    }

    private sealed record Member(int[] Vector, double Reward);

    private sealed record State(ControllerOptions Options, ulong[] Rng, List<Member> Population, int InitialRemaining);
}

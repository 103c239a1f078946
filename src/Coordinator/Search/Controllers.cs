using System.Text.Json;
using System.Text.Json.Serialization;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Search;

/// <summary>A candidate and the reward it earned (the controller's view of a finished trial).</summary>
public sealed record Observation(Candidate Candidate, double Reward);

/// <summary>
/// A search strategy: proposes candidates, learns from their rewards, and exports its complete state
/// (random generator included) so that a search restored from it proposes exactly what the uninterrupted
/// search would have. All implementations are deterministic for a seed.
/// </summary>
public interface ISearchController
{
    ControllerKind Kind { get; }

    IReadOnlyList<Candidate> Propose(int count);

    void Observe(IReadOnlyList<Observation> observations);

    /// <summary>The complete state as JSON (doubles round-trip exactly).</summary>
    string ExportState();
}

/// <summary>Hyper-parameters of the controllers (each uses its own).</summary>
public sealed record ControllerOptions
{
    public double LearningRate { get; init; } = 0.05;
    public double Temperature { get; init; } = 1.0;
    public double EntropyWeight { get; init; } = 0.01;
    public double BaselineDecay { get; init; } = 0.9;
    public int PopulationSize { get; init; } = 64;
    public int TournamentSize { get; init; } = 16;
}

/// <summary>Creates controllers by kind and restores them from exported state.</summary>
public static class Controllers
{
    /// <summary>The controllers' names, as the command line takes them.</summary>
    public static readonly IReadOnlyList<string> Kinds = Shared.Protocol.Kinds.Names<ControllerKind>();

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <exception cref="NasInputException">An unknown kind (the command line's name of a controller).</exception>
    public static ControllerKind Parse(string kind) =>
        Shared.Protocol.Kinds.TryParse<ControllerKind>(kind, out var k)
            ? k
            : throw new NasInputException($"unknown controller '{kind}' (controllers: {string.Join(", ", Kinds)})");

    /// <exception cref="NasInputException">Unknown kind.</exception>
    public static ISearchController Create(string kind, Space space, long seed, ControllerOptions? options = null) => Create(Parse(kind), space, seed, options);

    public static ISearchController Create(ControllerKind kind, Space space, long seed, ControllerOptions? options = null)
    {
        options ??= new ControllerOptions();
        var rng = new DeterministicRng(unchecked((ulong)seed));
        return kind switch
        {
            ControllerKind.Reinforce => new ReinforceController(space, options, rng),
            ControllerKind.Evolution => new RegularizedEvolution(space, options, rng),
            ControllerKind.Random => new RandomSearch(space, rng),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a controller"),
        };
    }

    public static ISearchController Restore(Space space, string kind, string state) => Restore(space, Parse(kind), state);

    /// <exception cref="NasInputException">The state does not fit the space, or is not this controller's.</exception>
    public static ISearchController Restore(Space space, ControllerKind kind, string state) => kind switch
    {
        ControllerKind.Reinforce => ReinforceController.Restore(space, state),
        ControllerKind.Evolution => RegularizedEvolution.Restore(space, state),
        ControllerKind.Random => RandomSearch.Restore(space, state),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a controller"),
    };
}

/// <summary>Uniform sampling: the baseline every learned controller must beat.</summary>
public sealed class RandomSearch : ISearchController
{
    private readonly Space _space;
    private readonly DeterministicRng _rng;

    internal RandomSearch(Space space, DeterministicRng rng) => (_space, _rng) = (space, rng);

    public ControllerKind Kind => ControllerKind.Random;

    public IReadOnlyList<Candidate> Propose(int count) => Enumerable.Range(0, count).Select(_ => _space.Sample(_rng)).ToList();

    public void Observe(IReadOnlyList<Observation> observations)
    {
    }

    public string ExportState() => JsonSerializer.Serialize(new State(_rng.State), Controllers.Json);

    internal static RandomSearch Restore(Space space, string json)
    {
        var s = JsonSerializer.Deserialize<State>(json, Controllers.Json) ?? throw new NasInputException("empty random-search state");
        return new RandomSearch(space, DeterministicRng.FromState(s.Rng));
    }

    private sealed record State(ulong[] Rng);
}

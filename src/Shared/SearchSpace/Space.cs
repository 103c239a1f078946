using System.Collections.Immutable;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// A loaded search space: its decisions (after rules), the template that turns a candidate into a
/// network, and a fingerprint that changes whenever the document's meaning does (experiments record it
/// and refuse to resume against a different space).
/// </summary>
public sealed class Space
{
    private readonly Dictionary<string, int> _index;

    internal Space(string name, string description, string task, string source, ImmutableArray<Decision> decisions,
        ImmutableArray<SpaceRule> rules, SpaceTemplate template, string canonicalJson)
    {
        Name = name;
        Description = description;
        Task = task;
        Source = source;
        Decisions = decisions;
        Rules = rules;
        Template = template;
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalJson)));
        _index = decisions.Select((d, i) => (d.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        Size = decisions.Aggregate(BigInteger.One, (acc, d) => acc * d.Choices.Length);
        Log10Size = decisions.Sum(d => Math.Log10(d.Choices.Length));
    }

    public string Name { get; }

    public string Description { get; }

    /// <summary>classification, segmentation, detection or nlp.</summary>
    public string Task { get; }

    /// <summary>Where the space came from: a file path or <c>built-in:NAME</c>.</summary>
    public string Source { get; }

    /// <summary>The decisions in a fixed order: a candidate is one choice index per decision, in this order.</summary>
    public ImmutableArray<Decision> Decisions { get; }

    public ImmutableArray<SpaceRule> Rules { get; }

    internal SpaceTemplate Template { get; }

    /// <summary>SHA-256 of the document in canonical form (sorted keys, no whitespace).</summary>
    public string Fingerprint { get; }

    /// <summary>Number of distinct decision vectors (the product of the choice counts).</summary>
    public BigInteger Size { get; }

    public double Log10Size { get; }

    /// <summary>Input resolution (vision) or sequence length (nlp) the networks are built at.</summary>
    public int Resolution => Template.Resolution;

    public int IndexOf(string decision) => _index.TryGetValue(decision, out var i) ? i : -1;

    /// <summary>Draws one choice per decision uniformly at random.</summary>
    public Candidate Sample(DeterministicRng rng)
    {
        var v = new int[Decisions.Length];
        for (var i = 0; i < v.Length; i++) v[i] = rng.NextInt(Decisions[i].Choices.Length);
        return new Candidate(this, [.. v]);
    }

    /// <exception cref="NasInputException">Wrong length or an index out of range.</exception>
    public Candidate FromVector(IReadOnlyList<int> vector)
    {
        if (vector.Count != Decisions.Length)
            throw new NasInputException($"a candidate of space '{Name}' has {Decisions.Length} decisions, got a vector of {vector.Count}");
        for (var i = 0; i < vector.Count; i++)
            if (vector[i] < 0 || vector[i] >= Decisions[i].Choices.Length)
                throw new NasInputException($"choice index {vector[i]} is out of range for decision '{Decisions[i].Name}' ({Decisions[i].Choices.Length} choices)");
        return new Candidate(this, [.. vector]);
    }

    /// <summary>Builds a candidate from decision values; every decision must be given and every value must be a choice.</summary>
    public Candidate FromValues(IReadOnlyDictionary<string, ChoiceValue> values, string? file = null, string path = "$")
    {
        var v = new int[Decisions.Length];
        foreach (var key in values.Keys)
            if (!_index.ContainsKey(key))
                throw new NasInputException($"space '{Name}' has no decision named '{key}'", file, $"{path}.{key}");
        for (var i = 0; i < Decisions.Length; i++)
        {
            var d = Decisions[i];
            if (!values.TryGetValue(d.Name, out var value))
                throw new NasInputException($"missing decision '{d.Name}'", file, path);
            v[i] = d.IndexOf(value);
            if (v[i] < 0)
                throw new NasInputException($"{value.ToJson()} is not a choice of '{d.Name}' (choices: {string.Join(", ", d.Choices.Select(c => c.ToJson()))})", file, $"{path}.{d.Name}");
        }
        return new Candidate(this, [.. v]);
    }

    /// <summary>Reads a candidate written by <see cref="Candidate.ToJson"/> (or an object with a "candidate" key, as <c>spaces sample --json</c> prints).</summary>
    public Candidate ParseCandidate(JsonNode node)
    {
        node.ExpectObject();
        if (node.Has("candidate")) node = node.Prop("candidate");
        var values = new Dictionary<string, ChoiceValue>(StringComparer.Ordinal);
        foreach (var key in node.Keys) values[key] = ChoiceValue.From(node.Prop(key));
        return FromValues(values, node.File, node.Path);
    }

    /// <summary>
    /// The network a candidate describes, named <c>&lt;space&gt;#&lt;key&gt;</c>.
    /// </summary>
    /// <exception cref="NasInputException">The candidate describes a network that cannot exist; the message names the decisions and the layer.</exception>
    public Network Build(Candidate candidate)
    {
        if (!ReferenceEquals(candidate.Space, this) && candidate.Space.Fingerprint != Fingerprint)
            throw new ArgumentException("the candidate belongs to another search space", nameof(candidate));
        try
        {
            return NetworkAssembler.Build(Template, candidate.Values, $"{Name}#{candidate.Key}");
        }
        catch (InvalidNetworkException e)
        {
            throw new NasInputException($"candidate {candidate.ToJson()} of space '{Name}' builds an impossible network: {e.Message}");
        }
    }
}

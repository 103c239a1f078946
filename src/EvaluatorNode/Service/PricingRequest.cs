using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using Fidelity = NasCluster.Shared.Protocol.Fidelity;
using Wire = NasCluster.Cost.V1;

namespace NasCluster.EvaluatorNode.Service;

/// <summary>
/// A request of the cost service once decoded: the network built into the IR and the hardware resolved.
/// Whatever form the client sent (arch.json, a space candidate, ONNX, a zoo name), pricing only ever sees
/// this, so every form goes through the one cost path and the one content-addressed cache.
/// </summary>
public sealed record PricingRequest(Network Network, HardwareConfig Hardware, string? HardwareJson, Fidelity Fidelity, bool Layers)
{
    public string HardwareFingerprint => global::NasCluster.EvaluatorNode.Hardware.HardwareFingerprint.Of(Hardware);

    /// <summary>The evaluator entity that owns this network's cost on this hardware (shared with the searches).</summary>
    public string EntityId => EntityIdOf(HardwareFingerprint, Network.Hash, Fidelity);
}

/// <summary>A request the service cannot price because of what the client sent: <c>INVALID_ARGUMENT</c> naming <see cref="Field"/>.</summary>
public sealed class BadRequestException(string field, string reason) : Exception($"{field}: {reason}")
{
    /// <summary>Path of the offending field in the request, e.g. <c>network.candidate.decisions.kernel</c>.</summary>
    public string Field { get; } = field;

    public string Reason { get; } = reason;
}

/// <summary>
/// Turns the wire request into a <see cref="PricingRequest"/>, naming the field of every problem. Parsed
/// search spaces are kept (by name, or by a hash of the inline text), since a NAS client sends the same
/// space with every candidate.
/// </summary>
public sealed class PricingRequestDecoder
{
    /// <summary>Inline spaces kept at most; beyond it the memo starts over (a client sends one or a few).</summary>
    private const int MaxInlineSpaces = 64;

    private readonly ConcurrentDictionary<string, Space> _spaces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HardwareConfig> _hardware = new(StringComparer.Ordinal);

    /// <exception cref="BadRequestException">Anything the client got wrong.</exception>
    public PricingRequest Decode(EvaluateRequest request, string prefix = "")
    {
        var (hw, hwJson) = Hardware(request.Hardware, prefix + "hardware");
        var fidelity = request.Fidelity switch
        {
            Wire.Fidelity.Unspecified or Wire.Fidelity.Analytical => Fidelity.Analytical,
            Wire.Fidelity.Detailed => Fidelity.Detailed,
            var f => throw new BadRequestException(prefix + "fidelity", $"unknown fidelity {(int)f} (FIDELITY_ANALYTICAL = 1, FIDELITY_DETAILED = 2)"),
        };
        var network = Network(request.Network, prefix + "network");
        return new PricingRequest(network, hw, hwJson, fidelity, request.Layers);
    }

    private Network Network(NetworkSource? source, string field)
    {
        switch (source?.SourceCase ?? NetworkSource.SourceOneofCase.None)
        {
            case NetworkSource.SourceOneofCase.ArchJson:
                return Guard(field + ".arch_json", () => ArchJson.Read(source!.ArchJson));
            case NetworkSource.SourceOneofCase.OnnxModel:
                return Guard(field + ".onnx_model", () => OnnxImporter.Read(source!.OnnxModel.Memory, "onnx"));
            case NetworkSource.SourceOneofCase.ZooModel:
                var zoo = source!.ZooModel;
                if (!ModelZoo.Contains(zoo))
                    throw new BadRequestException(field + ".zoo_model", $"no zoo model named '{zoo}' (models: {string.Join(", ", ModelZoo.Names)})");
                return Guard(field + ".zoo_model", () => ModelZoo.Build(zoo));
            case NetworkSource.SourceOneofCase.Candidate:
                return Candidate(source!.Candidate, field + ".candidate");
            default:
                throw new BadRequestException(field, "required: one of arch_json, candidate, onnx_model, zoo_model");
        }
    }

    private Network Candidate(SpaceCandidate c, string field)
    {
        var space = c.SpaceCase switch
        {
            SpaceCandidate.SpaceOneofCase.BuiltInSpace => BuiltIn(c.BuiltInSpace, field + ".built_in_space"),
            SpaceCandidate.SpaceOneofCase.SpaceJson => Inline(c.SpaceJson, field + ".space_json"),
            _ => throw new BadRequestException(field, "required: built_in_space or space_json"),
        };
        Candidate candidate;
        if (c.Decisions.Count > 0)
        {
            if (c.ChoiceIndices.Count > 0) throw new BadRequestException(field, "give decisions or choice_indices, not both");
            var values = new Dictionary<string, ChoiceValue>(StringComparer.Ordinal);
            foreach (var (name, v) in c.Decisions)
            {
                values[name] = v.ValueCase switch
                {
                    DecisionValue.ValueOneofCase.Integer => ChoiceValue.Of(v.Integer),
                    DecisionValue.ValueOneofCase.Real => ChoiceValue.Of(v.Real),
                    DecisionValue.ValueOneofCase.Text => ChoiceValue.Of(v.Text),
                    _ => throw new BadRequestException($"{field}.decisions.{name}", "no value (set integer, real or text)"),
                };
            }
            candidate = Guard(field + ".decisions", () => space.FromValues(values), stripDollar: true);
        }
        else if (c.ChoiceIndices.Count > 0)
        {
            candidate = Guard(field + ".choice_indices", () => space.FromVector(c.ChoiceIndices));
        }
        else
        {
            throw new BadRequestException(field, $"required: decisions (by name) or choice_indices (space '{space.Name}' has {space.Decisions.Length} decisions)");
        }
        return Guard(field, () => space.Build(candidate));
    }

    private Space BuiltIn(string name, string field)
    {
        if (_spaces.TryGetValue("built-in:" + name, out var s)) return s;
        if (!BuiltInSpaces.Names.Contains(name))
            throw new BadRequestException(field, $"no built-in space named '{name}' (spaces: {string.Join(", ", BuiltInSpaces.Names)})");
        return _spaces.GetOrAdd("built-in:" + name, _ => BuiltInSpaces.Load(name));
    }

    private Space Inline(string text, string field)
    {
        var key = "inline:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        if (_spaces.TryGetValue(key, out var s)) return s;
        var space = Guard(field, () => SearchSpaceLoader.Parse(text));
        if (_spaces.Count >= MaxInlineSpaces + BuiltInSpaces.Names.Count) _spaces.Clear();
        return _spaces.GetOrAdd(key, space);
    }

    private (HardwareConfig Hardware, string? Json) Hardware(HardwareSource? source, string field)
    {
        switch (source?.HardwareCase ?? HardwareSource.HardwareOneofCase.None)
        {
            case HardwareSource.HardwareOneofCase.Preset:
                var name = source!.Preset;
                if (!HardwarePresets.Contains(name))
                    throw new BadRequestException(field + ".preset", $"unknown hardware preset '{name}' (presets: {string.Join(", ", HardwarePresets.Names)})");
                return (HardwarePresets.Get(name), null);
            case HardwareSource.HardwareOneofCase.HardwareJson:
                var json = source!.HardwareJson;
                if (_hardware.TryGetValue(json, out var known)) return (known, json);
                var hw = Guard(field + ".hardware_json", () => HardwareFile.Parse(json));
                if (_hardware.Count >= MaxInlineSpaces) _hardware.Clear();
                _hardware[json] = hw;
                return (hw, json);
            default:
                return (HardwarePresets.Get(HardwarePresets.Default), null);
        }
    }

    /// <summary>Runs a parser, turning its input error into a <see cref="BadRequestException"/> at <paramref name="field"/> (plus the JSON path inside it).</summary>
    private static T Guard<T>(string field, Func<T> parse, bool stripDollar = false)
    {
        try
        {
            return parse();
        }
        catch (NasInputException e)
        {
            var path = e.JsonPath is { Length: > 0 } p ? p.TrimStart('$') : "";
            if (stripDollar && path.StartsWith('.')) path = path[1..];
            var at = path.Length == 0 ? field : path.StartsWith('[') || (!stripDollar && path.StartsWith('.')) ? field + path : field + "." + path;
            return e is InvalidNetworkException inv
                ? throw new BadRequestException(at, $"impossible network: {inv.Message}")
                : throw new BadRequestException(at, e.Reason);
        }
    }
}

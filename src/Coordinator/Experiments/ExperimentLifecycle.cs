using System.Text.Json;
using NasCluster.Coordinator.Search;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>What a resume request comes to, decided without actors (the actor carries it out).</summary>
public abstract record ResumeDecision
{
    private ResumeDecision()
    {
    }

    /// <summary>Refused with the reason; <paramref name="Stop"/>: the experiment does not exist, so its actor stops.</summary>
    public sealed record Refuse(string Reason, bool Stop = false) : ResumeDecision;

    /// <summary>Running here already: accepted, nothing to do.</summary>
    public sealed record AlreadyRunning : ResumeDecision;

    /// <summary>Continue as a new experiment: the registry creates it from this start.</summary>
    public sealed record Fork(StartExperiment Start) : ResumeDecision;

    /// <summary>Every trial is accounted for: accepted, and the watchers are told it is done.</summary>
    public sealed record AlreadyFinished : ResumeDecision;

    /// <summary>Recovered and unchanged: accept, and run it on its own copy of the space.</summary>
    public sealed record Continue : ResumeDecision;
}

/// <summary>
/// Starting and resuming an experiment, as pure decisions: what a start creates (the space and the
/// controller's first state, or a fork's inherited one), and what a resume comes to given the recovered
/// state and today's space, hardware and simulator.
/// </summary>
public static class ExperimentLifecycle
{
    /// <summary>What a start creates: the parsed space and the creation event; <paramref name="warning"/> when a fork's
    /// inherited controller state does not fit the new space and a fresh controller is used instead.</summary>
    /// <exception cref="NasInputException">The space in the spec does not load.</exception>
    public static (Space Space, ExperimentCreated Created) Create(StartExperiment start, long nowUnixMs, out string? warning)
    {
        warning = null;
        var spec = start.Spec;
        var space = SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
        var controller = Controllers.Create(spec.Controller, space, spec.Seed);
        if (start.ControllerState is { } inherited)
        {
            try
            {
                controller = Controllers.Restore(space, spec.Controller, inherited);
            }
            catch (Exception e) when (e is NasInputException or JsonException)
            {
                warning = $"the parent's controller state does not fit the new space ({e.Message}); starting a fresh controller";
            }
        }
        return (space, new ExperimentCreated(spec, controller.ExportState(), nowUnixMs));
    }

    /// <summary>What <paramref name="resume"/> comes to; <paramref name="notes"/> are harmless findings to log.</summary>
    public static ResumeDecision Resume(string name, ExperimentState? state, bool running, ResumeExperiment resume, out IReadOnlyList<string> notes)
    {
        notes = [];
        if (state is null) return new ResumeDecision.Refuse($"unknown experiment '{name}' (see `nascluster list`)", Stop: true);
        if (running && resume.ForkAs is null) return new ResumeDecision.AlreadyRunning();
        ExperimentSpecs.ResumeCheck check;
        try
        {
            check = ExperimentSpecs.CheckResume(state.Spec);
        }
        catch (NasInputException e)
        {
            return new ResumeDecision.Refuse($"cannot resume '{name}': {e.Message}");
        }
        notes = check.Notes;
        if (resume.ForkAs is { } fork)
        {
            try
            {
                return new ResumeDecision.Fork(new StartExperiment(ExperimentSpecs.Fork(check.Current, fork, state.Completed + state.Failed), state.ControllerState));
            }
            catch (NasInputException e)
            {
                return new ResumeDecision.Refuse(e.Message);
            }
        }
        if (check.Differences.Count > 0)
            return new ResumeDecision.Refuse($"cannot resume '{name}': {string.Join("; ", check.Differences)}. Its results would not be comparable; " +
                                             $"continue under a new name with `nascluster resume {name} --fork NEW`");
        if (state.Finished) return new ResumeDecision.AlreadyFinished();
        return new ResumeDecision.Continue();
    }
}

/// <summary>
/// The architecture text each dispatched trial carries to its workers: the networks built while proposing
/// are kept until their trials are dispatched (no second build), and each trial's arch.json is written once
/// and kept while the trial has work out.
/// </summary>
public sealed class ArchitectureTexts
{
    private readonly Dictionary<string, Network> _built = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _json = [];

    public Network BuildAndKeep(Space space, Candidate c)
    {
        var network = space.Build(c);
        _built[Key(c.Vector)] = network;
        return network;
    }

    public string Of(Space space, TrialState t)
    {
        if (_json.TryGetValue(t.Id, out var json)) return json;
        var network = _built.Remove(Key(t.Vector), out var kept) ? kept : space.Build(space.FromVector(t.Vector));
        json = ArchJson.Write(network);
        _json[t.Id] = json;
        return json;
    }

    /// <summary>What was built but not dispatched repeats an earlier trial: dropped after each proposal is dispatched.</summary>
    public void ForgetBuilt() => _built.Clear();

    /// <summary>The trial is done: no worker will need its text again.</summary>
    public void Forget(int trial) => _json.Remove(trial);

    private static string Key(IReadOnlyList<int> vector) => string.Join(',', vector);
}

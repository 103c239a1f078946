namespace NasCluster.Shared.Protocol;

/// <summary>Events the experiment registry persists: which experiments the cluster is running. Manifests never change.</summary>
public interface IRegistryEvent : INasMessage;

/// <summary>
/// The registry's own record (persistence id <see cref="PersistenceId"/>): an experiment is running from
/// the moment a start or resume is handed to it until it is done, stopped or refused. A registry that
/// starts on another coordinator after a takeover reads it and restarts every experiment still running;
/// the experiments themselves are in their own journals. Written only by cluster coordinators
/// (<c>nascluster.registry.remember-running</c>; a standalone search leaves its experiment to `resume`).
/// </summary>
public static class RegistryProtocol
{
    /// <summary>Not of the form <c>experiment-NAME</c>, so no experiment name can collide with it.</summary>
    public const string PersistenceId = "nascluster-registry";

    public sealed record RegistryExperimentStarted(string Name, long AtUnixMs) : IRegistryEvent;

    public sealed record RegistryExperimentEnded(string Name, string Why, long AtUnixMs) : IRegistryEvent;
}

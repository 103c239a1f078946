namespace NasCluster.Shared.Protocol;

/// <summary>
/// Marker of every message that crosses a process boundary or is persisted: binds <see cref="NasSerializer"/>.
/// With strict serialization on, anything else sent remotely fails loudly instead of falling back to
/// polymorphic JSON.
/// </summary>
public interface INasMessage;

using NasCluster.Shared.Util;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// A network that cannot exist (channels not divisible by groups, a spatial size that shrinks below 1,
/// mismatched shapes at an add...). It names the layer so the user can find it.
/// </summary>
public sealed class InvalidNetworkException : NasInputException
{
    public InvalidNetworkException(string layerName, string reason, string? file = null, string? jsonPath = null)
        : base($"layer '{layerName}': {reason}", file, jsonPath)
    {
        LayerName = layerName;
        LayerReason = reason;
    }

    public string LayerName { get; }

    /// <summary>The reason without the layer prefix.</summary>
    public string LayerReason { get; }

    public override NasInputException InFile(string file) => new InvalidNetworkException(LayerName, LayerReason, file, JsonPath);

    /// <summary>The same problem, located at a JSON path of a file.</summary>
    public InvalidNetworkException At(string? file, string? jsonPath) => new(LayerName, LayerReason, file, jsonPath);
}

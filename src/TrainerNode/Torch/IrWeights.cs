using TorchSharp;

namespace NasCluster.TrainerNode.Torch;

/// <summary>
/// An IrModule's parameters and batch-norm statistics by name, as float arrays: the weight source of the
/// ONNX exporter (whose names are the module's: <c>l{i}_conv.weight</c>, <c>l{i}_bn.running_mean</c>, …).
/// </summary>
public static class IrWeights
{
    public static IReadOnlyDictionary<string, float[]> Of(IrModule module)
    {
        var all = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (name, tensor) in module.state_dict())
        {
            if (tensor.dtype != torch.ScalarType.Float32) continue; // num_batches_tracked
            all[name] = tensor.detach().cpu().contiguous().data<float>().ToArray();
        }
        return all;
    }
}

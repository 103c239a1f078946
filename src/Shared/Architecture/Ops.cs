namespace NasCluster.Shared.Architecture;

/// <summary>
/// Activation functions the IR knows. The built-in spaces use only the Edge TPU friendly ones (ReLU,
/// ReLU6); sigmoid and the hard variants (MobileNetV3, squeeze-and-excitation gates) exist so imported
/// ONNX models keep their meaning. New kinds are appended: names, not positions, are persisted.
/// </summary>
public enum ActivationKind { None, Relu, Relu6, Sigmoid, HardSigmoid, HardSwish }

/// <summary>TF-style padding: <c>Same</c> gives ⌈in/stride⌉ outputs, <c>Valid</c> only full windows.</summary>
public enum Padding { Same, Valid }

public enum PoolKind { Average, Max }

public enum ResizeMode { Bilinear, Nearest }

/// <summary>What a network input carries: image pixels or token ids (for embeddings).</summary>
public enum InputKind { Image, Tokens }

/// <summary>
/// One operation of the IR. Ops are immutable values: two layers with equal ops and equal inputs are
/// the same computation, which is what the canonical form and the cost cache rely on.
/// </summary>
public abstract record Op;

/// <summary>A network input of a fixed shape.</summary>
public sealed record InputOp(TensorShape Shape, InputKind Kind = InputKind.Image) : Op;

/// <summary>
/// 2-D convolution. Groups generalise it: <c>Groups == 1</c> is a full conv, <c>Groups == Cin == Cout</c>
/// is depthwise. NasCluster's <em>group size</em> is input channels per group, <c>Cin / Groups</c>
/// (the TF Model Garden counts output filters per group; conversions say which they use).
/// <c>BatchNorm</c> marks a conv trained with batch norm, folded into a per-channel bias at inference.
/// </summary>
public sealed record Conv2DOp(
    int Filters,
    int KernelH,
    int KernelW,
    int Stride = 1,
    int Dilation = 1,
    Padding Padding = Padding.Same,
    int Groups = 1,
    bool Bias = false,
    bool BatchNorm = true,
    ActivationKind Activation = ActivationKind.None) : Op;

/// <summary>Fully connected layer applied at every position on the channel axis (per token for NLP).</summary>
public sealed record DenseOp(int Units, bool Bias = true, ActivationKind Activation = ActivationKind.None) : Op;

/// <summary>Element-wise sum of inputs of equal shape (residual skips, FPN fusions).</summary>
public sealed record AddOp(ActivationKind Activation = ActivationKind.None) : Op;

/// <summary>BiFPN "fast normalised fusion": Σ wᵢ·xᵢ / (ε + Σ wᵢ) with one learnable weight per input.</summary>
public sealed record WeightedAddOp(ActivationKind Activation = ActivationKind.None) : Op;

/// <summary>
/// Element-wise product of inputs of equal shape, or of a feature map and a 1 × 1 × C per-channel scale
/// (a squeeze-and-excitation gate), which is broadcast over the map.
/// </summary>
public sealed record MultiplyOp : Op;

/// <summary>Concatenation on the channel axis; spatial sizes must match.</summary>
public sealed record ConcatOp : Op;

/// <summary>Windowed pooling.</summary>
public sealed record PoolOp(PoolKind Pool, int Kernel, int Stride, Padding Padding = Padding.Same) : Op;

/// <summary>Pooling over the whole spatial extent, giving 1 × 1 × C.</summary>
public sealed record GlobalPoolOp(PoolKind Pool = PoolKind.Average) : Op;

/// <summary>Spatial resize to a fixed output size (FPN upsampling, segmentation output).</summary>
public sealed record ResizeOp(ResizeMode Mode, int Height, int Width) : Op;

/// <summary>A stand-alone activation (one that could not be fused into the producing layer).</summary>
public sealed record ActivationOp(ActivationKind Activation) : Op;

/// <summary>Flattens H × W × C to 1 × 1 × (H·W·C) (VGG-style classifiers).</summary>
public sealed record FlattenOp : Op;

/// <summary>Reinterprets the elements with a new shape of the same size (detection output heads).</summary>
public sealed record ReshapeOp(TensorShape Shape) : Op;

/// <summary>
/// Batched matrix multiply for attention, over <c>Heads</c> independent heads on sequences (1 × L × D):
/// with <c>TransposeB</c>, A[1,M,h·k] · B[1,N,h·k]ᵀ → [1,M,h·N] (scores);
/// without it, A[1,M,h·N] · B[1,N,h·k] → [1,M,h·k] (context).
/// </summary>
public sealed record MatMulOp(int Heads, bool TransposeB) : Op;

/// <summary>Softmax over the channel axis, split into <c>Groups</c> independent slices (one per head).</summary>
public sealed record SoftmaxOp(int Groups = 1) : Op;

/// <summary>Per-position normalisation over channels with learnable scale and shift (MobileBERT's NoNorm shares the cost).</summary>
public sealed record LayerNormOp : Op;

/// <summary>Token id → vector lookup table; input is 1 × L × 1 token ids.</summary>
public sealed record EmbeddingOp(int Vocabulary, int Dim) : Op;

/// <summary>
/// An op the IR knows only by its type name (an ONNX operator such as <c>Erf</c>, <c>Tanh</c> or <c>ArgMax</c>):
/// element-wise over inputs of one spatial size (equal shapes, or 1 × 1 × C and H × W × 1 broadcasts), giving
/// <c>Channels</c> channels (0: as many as the widest input; 1 for a reduction over channels). It exists so that
/// imported models whose every op the accelerator cannot run still price: the cost model runs it on the host
/// CPU (no accelerator implementation), the trainer and the exporter refuse it by name.
/// </summary>
public sealed record HostOp(string Type, int Channels = 0) : Op;

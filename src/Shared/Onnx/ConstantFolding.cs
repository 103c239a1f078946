using System.Buffers.Binary;
using NasCluster.Shared.Util;
using Onnx;

namespace NasCluster.Shared.Onnx;

/// <summary>A small integer tensor: what shape computations in an ONNX graph carry (shapes, pads, axes).</summary>
internal sealed record SmallTensor(long[] Dims, long[] Data)
{
    public long Elements => Dims.Aggregate(1L, (a, b) => a * b);

    public long At(long[] index)
    {
        long flat = 0;
        for (var i = 0; i < Dims.Length; i++) flat = flat * Dims[i] + index[i];
        return Data[flat];
    }

    /// <summary>Every index of the tensor in row-major order.</summary>
    public IEnumerable<long[]> Indices()
    {
        var index = new long[Dims.Length];
        for (long k = 0; k < Elements; k++)
        {
            yield return (long[])index.Clone();
            for (var d = Dims.Length - 1; d >= 0; d--)
            {
                if (++index[d] < Dims[d]) break;
                index[d] = 0;
            }
        }
    }
}

/// <summary>
/// Evaluates the integer shape computations exporters leave in a graph (PyTorch's padding and view
/// arithmetic: Shape, Gather, Unsqueeze, Concat, Slice, Transpose, Reshape, Cast, ConstantOfShape) when
/// all their inputs are known, so the importer sees constants where the IR needs them.
/// </summary>
internal static class ConstantFolding
{
    public const long MaxElements = 4096;

    public static SmallTensor Evaluate(NodeProto n, IReadOnlyList<SmallTensor?> inputs)
    {
        SmallTensor In(int i) => i < inputs.Count && inputs[i] is { } t ? t : throw Fail(n, $"input {i} is missing");
        long[] Ints(string name, long[]? none) =>
            n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : none ?? throw Fail(n, $"attribute '{name}' is missing");
        long Int(string name, long none) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : none;
        switch (n.OpType)
        {
            case "Cast":
                return In(0);
            case "ConstantOfShape":
            {
                var dims = In(0).Data;
                var value = n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } t && TensorData.Integers(t) is { Length: > 0 } v ? v[0] : 0;
                var count = dims.Aggregate(1L, (a, b) => a * b);
                if (count > MaxElements) throw Fail(n, "too large to fold");
                return new SmallTensor(dims, Enumerable.Repeat(value, (int)count).ToArray());
            }
            case "Reshape":
            {
                var x = In(0);
                var shape = In(1).Data.Select((d, i) => d == 0 && i < x.Dims.Length ? x.Dims[i] : d).ToArray();
                var unknown = Array.IndexOf(shape, -1L);
                if (unknown >= 0) shape[unknown] = x.Elements / Math.Max(1, shape.Where((_, i) => i != unknown).Aggregate(1L, (a, b) => a * b));
                return new SmallTensor(shape, x.Data);
            }
            case "Unsqueeze":
            {
                var x = In(0);
                var axes = inputs.Count > 1 && inputs[1] is { } ax ? ax.Data : Ints("axes", null);
                var dims = x.Dims.ToList();
                foreach (var a in axes.Select(a => a < 0 ? a + x.Dims.Length + axes.Length : a).Order()) dims.Insert((int)a, 1);
                return new SmallTensor([.. dims], x.Data);
            }
            case "Squeeze":
            {
                var x = In(0);
                var axes = inputs.Count > 1 && inputs[1] is { } ax ? ax.Data : Ints("axes", [.. Enumerable.Range(0, x.Dims.Length).Where(i => x.Dims[i] == 1).Select(i => (long)i)]);
                var drop = axes.Select(a => a < 0 ? a + x.Dims.Length : a).ToHashSet();
                return new SmallTensor([.. x.Dims.Where((_, i) => !drop.Contains(i))], x.Data);
            }
            case "Concat":
            {
                var xs = inputs.Select((_, i) => In(i)).ToArray();
                if (xs.Any(x => x.Dims.Length != 1)) throw Fail(n, "only 1-D shape vectors are concatenated");
                var data = xs.SelectMany(x => x.Data).ToArray();
                return new SmallTensor([data.Length], data);
            }
            case "Gather":
            {
                var x = In(0);
                var idx = In(1);
                if (Int("axis", 0) != 0 || x.Dims.Length != 1) throw Fail(n, "only gathering from a 1-D shape vector is folded");
                var data = idx.Data.Select(i => x.Data[i < 0 ? i + x.Data.Length : i]).ToArray();
                return new SmallTensor(idx.Dims, data);
            }
            case "Transpose":
            {
                var x = In(0);
                var perm = Ints("perm", [.. Enumerable.Range(0, x.Dims.Length).Reverse().Select(i => (long)i)]);
                var dims = perm.Select(p => x.Dims[p]).ToArray();
                var result = new SmallTensor(dims, new long[x.Elements]);
                var k = 0;
                foreach (var index in result.Indices())
                {
                    var source = new long[x.Dims.Length];
                    for (var d = 0; d < perm.Length; d++) source[perm[d]] = index[d];
                    result.Data[k++] = x.At(source);
                }
                return result;
            }
            case "Slice":
            {
                var x = In(0);
                var starts = In(1).Data;
                var ends = In(2).Data;
                var axes = inputs.Count > 3 && inputs[3] is { } ax ? ax.Data : [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
                var steps = inputs.Count > 4 && inputs[4] is { } st ? st.Data : [.. Enumerable.Repeat(1L, starts.Length)];
                var ranges = x.Dims.Select(d => (Start: 0L, Step: 1L, Count: d)).ToArray();
                for (var i = 0; i < axes.Length; i++)
                {
                    var axis = (int)(axes[i] < 0 ? axes[i] + x.Dims.Length : axes[i]);
                    var dim = x.Dims[axis];
                    var step = steps[i];
                    if (step == 0) throw Fail(n, "slice step 0");
                    long Clamp(long v, long lo, long hi) => Math.Clamp(v < 0 ? v + dim : v, lo, hi);
                    var (start, end) = step > 0 ? (Clamp(starts[i], 0, dim), Clamp(ends[i], 0, dim)) : (Clamp(starts[i], -1, dim - 1), Clamp(ends[i], -1, dim - 1));
                    var count = step > 0 ? Math.Max(0, (end - start + step - 1) / step) : Math.Max(0, (start - end - step - 1) / -step);
                    ranges[axis] = (start, step, count);
                }
                var result = new SmallTensor([.. ranges.Select(r => r.Count)], new long[ranges.Aggregate(1L, (a, r) => a * r.Count)]);
                var k = 0;
                foreach (var index in result.Indices())
                    result.Data[k++] = x.At([.. index.Select((v, d) => ranges[d].Start + v * ranges[d].Step)]);
                return result;
            }
            default:
                throw Fail(n, "cannot be folded");
        }
    }

    private static NasInputException Fail(NodeProto n, string reason) =>
        new($"node '{(n.Name.Length > 0 ? n.Name : n.OpType)}' ({n.OpType}): {reason} (a shape computation the importer folds)");
}

/// <summary>The numbers of an ONNX tensor, from whichever field the exporter filled (typed lists or raw little-endian bytes).</summary>
internal static class TensorData
{
    public static long[] Integers(TensorProto t)
    {
        if (t.Int64Data.Count > 0) return [.. t.Int64Data];
        if (t.Int32Data.Count > 0) return [.. t.Int32Data.Select(i => (long)i)];
        var raw = t.RawData.Span;
        return t.DataType switch
        {
            (int)TensorProto.Types.DataType.Int64 => [.. Enumerable.Range(0, raw.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(t.RawData.Span.Slice(i * 8, 8)))],
            (int)TensorProto.Types.DataType.Int32 => [.. Enumerable.Range(0, raw.Length / 4).Select(i => (long)BinaryPrimitives.ReadInt32LittleEndian(t.RawData.Span.Slice(i * 4, 4)))],
            _ => [.. Floats(t).Select(f => (long)f)],
        };
    }

    public static float[] Floats(TensorProto t)
    {
        if (t.FloatData.Count > 0) return [.. t.FloatData];
        if (t.DoubleData.Count > 0) return [.. t.DoubleData.Select(d => (float)d)];
        var raw = t.RawData.Span;
        return t.DataType switch
        {
            (int)TensorProto.Types.DataType.Float => [.. Enumerable.Range(0, raw.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(t.RawData.Span.Slice(i * 4, 4)))],
            (int)TensorProto.Types.DataType.Double => [.. Enumerable.Range(0, raw.Length / 8).Select(i => (float)BinaryPrimitives.ReadDoubleLittleEndian(t.RawData.Span.Slice(i * 8, 8)))],
            (int)TensorProto.Types.DataType.Int64 or (int)TensorProto.Types.DataType.Int32 => [.. Integers(t).Select(i => (float)i)],
            _ => [],
        };
    }
}

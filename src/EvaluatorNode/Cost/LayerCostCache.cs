using System.Collections.Concurrent;
using NasCluster.EvaluatorNode.Compiler;
using NasCluster.Shared.Architecture;

namespace NasCluster.EvaluatorNode.Cost;

/// <summary>
/// Per-layer costs keyed by layer signature (op, input shapes, parameter placement, activation reserve, host or accelerator)
/// and hardware. Candidates of a search space share most of their layers, so most layers of a new
/// candidate are already priced. Bounded: when full it starts over, so memory stays flat however many
/// networks go through it.
/// </summary>
public sealed class LayerCostCache(int capacity = 200_000)
{
    public static LayerCostCache Shared { get; } = new();

    internal readonly record struct Key(string Hardware, Op Op, TensorShape In0, TensorShape In1, int Inputs, bool Cached, long Reserve, bool OnHost);

    internal sealed record Entry(LayerPlan Plan, LayerTime Time, double DynamicEnergyPj);

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private long _hits;
    private long _misses;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    public int Count => _entries.Count;

    public void ResetStatistics()
    {
        Interlocked.Exchange(ref _hits, 0);
        Interlocked.Exchange(ref _misses, 0);
    }

    internal Entry GetOrAdd(Key key, Func<Entry> create)
    {
        if (_entries.TryGetValue(key, out var e))
        {
            Interlocked.Increment(ref _hits);
            return e;
        }
        Interlocked.Increment(ref _misses);
        if (_entries.Count >= capacity) _entries.Clear();
        e = create();
        _entries.TryAdd(key, e);
        return e;
    }
}

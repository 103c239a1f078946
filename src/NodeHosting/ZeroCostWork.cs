using System.IO.Hashing;
using System.Text;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.NodeHosting;

/// <summary>
/// Work answered at (almost) no cost, for benchmarks of the cluster's own overhead (`--zero-cost` on the
/// node executables): no pricing, no parsing, no training. The numbers are deterministic functions of the
/// architecture (its entity id or text), so rewards still differ between candidates and a seeded search
/// stays reproducible; they mean nothing else.
/// </summary>
public static class ZeroCostWork
{
    public static CostSummary Price(Evaluate e)
    {
        var u = Unit(e.EntityId);
        return new CostSummary(1 + u, 0.8 + u, 0.5 + u / 2, 1, 0.5, 5_000_000, 500_000_000, 4_000_000, 1_000_000);
    }

    public static ProxyOutcome Train(WorkAssignment w) =>
        new(true, null, 0.8 + 0.1 * Unit(w.ArchitectureJson), 0, 0, 0, 0, 0, 0, "", null, null);

    private static double Unit(string s) => XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(s)) / (double)ulong.MaxValue;
}

namespace NasCluster.Coordinator.Pareto;

/// <summary>A point of a quality-vs-cost trade-off: higher quality and lower cost are better.</summary>
public sealed record ParetoPoint(string Id, double Cost, double Quality);

/// <summary>
/// The Pareto front of quality (maximised) against one cost (minimised), maintained incrementally: each
/// new trial is either dominated (ignored) or enters the front and evicts what it dominates. The front
/// is kept sorted by cost, so quality increases along it, and the hypervolume — the area it dominates
/// above a reference quality and below a reference cost — is a single pass.
/// </summary>
public sealed class ParetoFront
{
    private readonly List<ParetoPoint> _points = [];

    /// <summary>The non-dominated points, by increasing cost (and so increasing quality).</summary>
    public IReadOnlyList<ParetoPoint> Points => _points;

    public int Count => _points.Count;

    /// <summary>Adds a point; returns whether it is on the front afterwards. Ties keep the earlier point.</summary>
    public bool Add(ParetoPoint p)
    {
        if (!double.IsFinite(p.Cost) || !double.IsFinite(p.Quality)) return false;
        // The first point at a cost ≥ p.Cost, and its predecessor (cheaper, so of lower quality).
        var i = LowerBound(p.Cost);
        if (i > 0 && _points[i - 1].Quality >= p.Quality) return false;                      // a cheaper point is at least as good
        if (i < _points.Count && _points[i].Cost == p.Cost && _points[i].Quality >= p.Quality) return false; // same cost, at least as good
        var j = i;
        while (j < _points.Count && _points[j].Quality <= p.Quality) j++;                     // dearer points that are not better
        _points.RemoveRange(i, j - i);
        _points.Insert(i, p);
        return true;
    }

    public bool Dominates(ParetoPoint p)
    {
        var i = LowerBound(p.Cost);
        return (i > 0 && _points[i - 1].Quality >= p.Quality) || (i < _points.Count && _points[i].Cost == p.Cost && _points[i].Quality >= p.Quality);
    }

    /// <summary>Area dominated by the front within cost ≤ <paramref name="referenceCost"/> and quality ≥ <paramref name="referenceQuality"/>.</summary>
    public double Hypervolume(double referenceCost, double referenceQuality)
    {
        var volume = 0.0;
        for (var i = 0; i < _points.Count; i++)
        {
            var p = _points[i];
            if (p.Cost >= referenceCost) break;
            var next = i + 1 < _points.Count ? Math.Min(_points[i + 1].Cost, referenceCost) : referenceCost;
            volume += (next - p.Cost) * Math.Max(0, p.Quality - referenceQuality);
        }
        return volume;
    }

    private int LowerBound(double cost)
    {
        int lo = 0, hi = _points.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (_points[mid].Cost < cost) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}

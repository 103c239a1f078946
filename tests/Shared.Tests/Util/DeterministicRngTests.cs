using NasCluster.Shared.Util;

namespace NasCluster.Shared.Tests.Util;

public class DeterministicRngTests
{
    [Fact]
    public void Same_seed_same_sequence_and_the_sequence_is_pinned()
    {
        var a = new DeterministicRng(123);
        var b = new DeterministicRng(123);
        var xs = Enumerable.Range(0, 100).Select(_ => a.NextUInt64()).ToList();
        Assert.Equal(xs, Enumerable.Range(0, 100).Select(_ => b.NextUInt64()));
        // Pinned: a change to the generator would silently change every seeded search, so it must fail here.
        var c = new DeterministicRng(0);
        Assert.Equal(0x99EC5F36CB75F2B4UL, c.NextUInt64());
        var d = new DeterministicRng(0);
        Assert.Equal([601, 747, 103], new[] { d.NextInt(1000), d.NextInt(1000), d.NextInt(1000) });
    }

    [Fact]
    public void Exported_state_continues_exactly()
    {
        var a = new DeterministicRng(77);
        for (var i = 0; i < 10; i++) a.NextUInt64();
        var b = DeterministicRng.FromState(a.State);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => a.NextInt(17)), Enumerable.Range(0, 50).Select(_ => b.NextInt(17)));
        Assert.Throws<ArgumentException>(() => DeterministicRng.FromState([0, 0, 0, 0]));
    }

    [Fact]
    public void Bounded_draws_stay_in_range_and_cover_it()
    {
        var r = new DeterministicRng(5);
        var seen = new bool[7];
        for (var i = 0; i < 1000; i++)
        {
            var x = r.NextInt(7);
            Assert.InRange(x, 0, 6);
            seen[x] = true;
            Assert.InRange(r.NextDouble(), 0.0, 0.9999999999999999);
        }
        Assert.All(seen, Assert.True);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.NextInt(0));
    }
}

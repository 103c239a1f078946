namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>
/// Energy per action, in picojoules, for the power model (Accelergy style: activity counts × energy
/// per action). Built from the 45 nm reference energies of edgetpu.md §5.1 (Horowitz, ISSCC 2014)
/// scaled to the preset's technology node; off-chip energy is the memory interface's own figure and is
/// not scaled with the logic node.
/// </summary>
public sealed record EnergyTable(
    double MacPj,
    double CoreMemReadPjPerByte,
    double CoreMemWritePjPerByte,
    double PeMemReadPjPerByte,
    double PeMemWritePjPerByte,
    double BroadcastPjPerByte,
    double OffChipPjPerByte,
    double VectorOpPj,
    double StaticFraction)
{
    /// <summary>The factor applied to the node's on-chip estimates (1 unless a preset's budget capped them), written to hardware files.</summary>
    public double OnChipScale { get; init; } = 1;

    /// <summary>45 nm: int8 multiply 0.2 pJ + 32-bit accumulate 0.1 pJ (Horowitz).</summary>
    public const double Mac45nmPj = 0.3;

    /// <summary>On-chip wire / broadcast network per byte at 45 nm [A].</summary>
    public const double Broadcast45nmPjPerByte = 1.0;

    /// <summary>
    /// SRAM read energy per byte at 45 nm as a function of capacity, through Horowitz's points
    /// (8 KB ≈ 1.25, 32 KB ≈ 2.5, 1 MB ≈ 12.5 pJ/B): e = 2.5·(size/32 KiB)^0.464.
    /// </summary>
    public static double Sram45nmPjPerByte(long bytes) => 2.5 * Math.Pow(Math.Max(bytes, 1024) / 32768.0, 0.464);

    /// <summary>
    /// Dynamic-energy scale from 45 nm to <paramref name="nm"/> [A]: 28 nm 0.5, 16 nm 0.3, 7 nm 0.2,
    /// 5 nm 0.18, interpolated in log space — the "modern mobile ×0.2–0.3" of edgetpu.md §6.5.
    /// </summary>
    public static double TechnologyScale(double nm)
    {
        (double Nm, double Scale)[] points = [(5, 0.18), (7, 0.2), (16, 0.3), (28, 0.5), (45, 1.0), (65, 1.4)];
        if (nm <= points[0].Nm) return points[0].Scale;
        if (nm >= points[^1].Nm) return points[^1].Scale;
        for (var i = 1; i < points.Length; i++)
            if (nm <= points[i].Nm)
            {
                var t = Math.Log(nm / points[i - 1].Nm) / Math.Log(points[i].Nm / points[i - 1].Nm);
                return Math.Exp(Math.Log(points[i - 1].Scale) + t * Math.Log(points[i].Scale / points[i - 1].Scale));
            }
        return 1.0;
    }

    /// <summary>The same table with every on-chip energy (MAC, memories, broadcast, vector) times <paramref name="scale"/>; off-chip is the interface's own.</summary>
    public EnergyTable OnChipScaled(double scale) => this with
    {
        OnChipScale = OnChipScale * scale,
        MacPj = MacPj * scale,
        CoreMemReadPjPerByte = CoreMemReadPjPerByte * scale,
        CoreMemWritePjPerByte = CoreMemWritePjPerByte * scale,
        PeMemReadPjPerByte = PeMemReadPjPerByte * scale,
        PeMemWritePjPerByte = PeMemWritePjPerByte * scale,
        BroadcastPjPerByte = BroadcastPjPerByte * scale,
        VectorOpPj = VectorOpPj * scale,
    };

    /// <summary>Defaults for a chip at <paramref name="nm"/> with the given memories and off-chip interface.</summary>
    public static EnergyTable ForTechnology(double nm, long coreMemBytes, long peMemBytes, double offChipPjPerByte, double staticFraction = 0.1)
    {
        var s = TechnologyScale(nm);
        var core = Sram45nmPjPerByte(coreMemBytes) * s;
        var pe = Sram45nmPjPerByte(peMemBytes) * s;
        return new EnergyTable(
            MacPj: Mac45nmPj * s,
            CoreMemReadPjPerByte: core,
            CoreMemWritePjPerByte: core * 1.2,
            PeMemReadPjPerByte: pe,
            PeMemWritePjPerByte: pe * 1.2,
            BroadcastPjPerByte: Broadcast45nmPjPerByte * s,
            OffChipPjPerByte: offChipPjPerByte,
            VectorOpPj: 0.1 * s,
            StaticFraction: staticFraction);
    }
}

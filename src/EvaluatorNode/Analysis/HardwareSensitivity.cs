using System.Globalization;
using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using Json = System.Text.Json.Nodes;

namespace NasCluster.EvaluatorNode.Analysis;

/// <summary>One assumed or recalled figure of a hardware description, by its hardware-file key.</summary>
/// <param name="Key">The hardware-file key (<c>host.</c> for the host block).</param>
/// <param name="Field">The name the preset's sources know it by (<see cref="HardwareConfig.Sources"/>).</param>
/// <param name="Whole">Whether the figure is a whole number.</param>
public sealed record SensitivityFigure(string Key, string Field, bool Whole);

/// <summary>One variation of one figure: the rankings and findings it gives, against the unchanged hardware.</summary>
/// <param name="Figure">The figure varied.</param>
/// <param name="Source">Its source tag in the preset (A assumed, R recalled, C computed, S secondary).</param>
/// <param name="Base">Its value in the preset.</param>
/// <param name="Value">Its value in this variation.</param>
/// <param name="ZooLatencyTau">Kendall τ of the zoo's latencies against the unchanged hardware's.</param>
/// <param name="SpaceLatencyTau">Kendall τ of the sampled candidates' latencies.</param>
/// <param name="ZooEnergyTau">Kendall τ of the zoo's energies.</param>
/// <param name="Unpriced">Networks that do not map on the variation (left out of the τs).</param>
/// <param name="Findings">The paper's block findings on the variation.</param>
/// <param name="Refit">The calibration refitted on the variation (calibrated presets only).</param>
/// <param name="RefitFailure">Why the calibration could not be refitted (a calibration model does not map on the variation).</param>
public sealed record SensitivityRow(SensitivityFigure Figure, string Source, double Base, double Value, double ZooLatencyTau, double SpaceLatencyTau,
    double ZooEnergyTau, int Unpriced, IReadOnlyList<Finding> Findings, CalibrationResult? Refit, string? RefitFailure = null)
{
    /// <summary>
    /// The calibration rejects this value: the refitted map misses the acceptance bounds (MAPE ≤ 10%, Spearman ≥ 0.94),
    /// or a model the real device runs does not even map on it.
    /// </summary>
    public bool RejectedByCalibration => RefitFailure is not null
        || Refit is { } r && (r.Mape > HardwareSensitivity.MaxCalibrationMape || r.Spearman < HardwareSensitivity.MinCalibrationSpearman);
}

/// <summary>What every variation of a preset gave, and the preset's own findings.</summary>
/// <param name="Hardware">The preset (or file) analysed.</param>
/// <param name="Factor">Each figure was varied by ×(1 − factor) and ×(1 + factor).</param>
/// <param name="Candidates">Candidates sampled from the classification space for its ranking.</param>
/// <param name="Seed">Their seed.</param>
/// <param name="Findings">The paper's block findings on the hardware as it is.</param>
/// <param name="Rows">One row per variation.</param>
/// <param name="NotVaried">Figures or directions left out, with the reason (verified, zero, outside what a hardware file accepts, ...).</param>
public sealed record SensitivityReport(HardwareConfig Hardware, double Factor, int Candidates, ulong Seed, IReadOnlyList<Finding> Findings,
    IReadOnlyList<SensitivityRow> Rows, IReadOnlyList<(SensitivityFigure Figure, string Reason)> NotVaried)
{
    /// <summary>Figures the calibration cannot pin: every variation of them still fits the calibration points.</summary>
    public IEnumerable<SensitivityFigure> Unpinned =>
        Hardware.CalibrationSource.Length == 0 ? [] : Rows.GroupBy(r => r.Figure).Where(g => g.All(r => !r.RejectedByCalibration)).Select(g => g.Key);
}

/// <summary>
/// How much the model's answers rest on each figure nobody measured: every assumed, recalled or computed
/// figure of a preset varied down and up by a factor (±50% by default), one at a time, and for each
/// variation the zoo's and a sampled space's latency rankings (Kendall τ against the unchanged preset), the
/// zoo's energy ranking, and whether the paper's block findings survive. A calibrated preset is refitted
/// on every variation, as a user who changed that figure would; a figure whose every variation still fits
/// the calibration points is one the calibration cannot pin.
/// </summary>
public static class HardwareSensitivity
{
    public const double MaxCalibrationMape = 0.10;
    public const double MinCalibrationSpearman = 0.94;

    /// <summary>Every numeric figure of a hardware file the analysis may vary.</summary>
    public static readonly IReadOnlyList<SensitivityFigure> Figures =
    [
        new("clock_mhz", "ClockHz", false), new("pe_x", "PeX", true), new("pe_y", "PeY", true),
        new("cores_per_pe", "CoresPerPe", true), new("lanes_per_core", "LanesPerCore", true), new("mac_ways_per_lane", "MacWaysPerLane", true),
        new("act_broadcast_per_core_cycle", "ActBroadcastPerCoreCycle", false),
        new("depthwise_vector_per_core_cycle", "DepthwiseVectorPerCoreCycle", false),
        new("core_mem_kib", "CoreMemBytes", false), new("pe_mem_kib", "PeMemBytes", false), new("param_cache_kib", "ParamCacheBytes", false),
        new("max_activation_share", "MaxActivationShare", false), new("off_chip_gb_per_s", "OffChipBytesPerSecond", false),
        new("weight_broadcast_bytes_per_cycle", "WeightBroadcastBytesPerCycle", true), new("pe_mem_bytes_per_cycle", "PeMemBytesPerCycle", true),
        new("activation_broadcast_bytes_per_cycle", "ActivationBroadcastBytesPerCycle", true),
        new("layer_overhead_cycles", "LayerOverheadCycles", true), new("pass_overhead_cycles", "PassOverheadCycles", true),
        new("technology_nm", "TechnologyNm", false), new("off_chip_pj_per_byte", "OffChip energy", false), new("static_fraction", "StaticFraction", false),
        new("host.link_gb_per_s", "Host", false), new("host.invocation_overhead_us", "Host", false), new("host.transfer_latency_us", "Host", false),
        new("host.cpu_gops", "Host", false), new("host.cpu_op_overhead_us", "Host", false),
    ];

    /// <summary>Varies every unverified figure of <paramref name="hw"/> (or those named in <paramref name="only"/>) by ×(1 − factor) and ×(1 + factor).</summary>
    public static SensitivityReport Run(HardwareConfig hw, double factor = 0.5, int candidates = 200, ulong seed = 1, IReadOnlyCollection<string>? only = null,
        CancellationToken cancel = default)
    {
        if (!(factor > 0 && factor < 1)) throw new NasInputException($"the factor must be between 0 and 1 (got {factor.ToString(CultureInfo.InvariantCulture)})");
        if (candidates < 2) throw new NasInputException($"at least 2 candidates are needed for a ranking (got {candidates})");
        var unknown = only?.Where(k => Figures.All(f => f.Key != k)).ToList() ?? [];
        if (unknown.Count > 0)
            throw new NasInputException($"unknown figure{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown)} (figures: {string.Join(", ", Figures.Select(f => f.Key))})");

        var zoo = ModelZoo.Names.Select(n => ModelZoo.Build(n)).ToList();
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng(seed);
        var sampled = Enumerable.Range(0, candidates).Select(_ => space.Build(space.Sample(rng))).ToList();
        var baseline = Price(hw, zoo, sampled);
        var findings = PaperFindings.Evaluate(hw);

        var rows = new List<SensitivityRow>();
        var notVaried = new List<(SensitivityFigure, string)>();
        var file = Json.JsonNode.Parse(HardwareFile.Write(hw))!.AsObject();
        foreach (var figure in Figures.Where(f => only is null || only.Contains(f.Key)))
        {
            cancel.ThrowIfCancellationRequested();
            var source = SourceOf(hw, figure);
            var value = Get(file, figure.Key);
            // Verified figures stay unless named; on parts without DRAM off-chip bandwidth is the host link's (varied as host.link_gb_per_s).
            var reason = source == "V" && only is null ? "verified" : value is null ? "not in this description" : value == 0 ? "zero"
                : figure.Key == "off_chip_gb_per_s" && !hw.Host.DeviceDram ? "the host link's bandwidth on a part without DRAM (host.link_gb_per_s)" : null;
            if (reason is not null)
            {
                notVaried.Add((figure, reason));
                continue;
            }
            foreach (var scale in new[] { 1 - factor, 1 + factor })
            {
                var v = figure.Whole ? Math.Round(value!.Value * scale) : value!.Value * scale;
                if (v == value.Value) continue;
                HardwareConfig variant;
                string? refitFailure;
                try
                {
                    (variant, refitFailure) = Variant(hw, file, figure, v);
                }
                catch (NasInputException e) // outside what a hardware file accepts, or no valid part (e.g. one MAC way cannot halve)
                {
                    notVaried.Add((figure, $"{v.ToString(CultureInfo.InvariantCulture)} is not a valid value: {e.Message}"));
                    continue;
                }
                var priced = Price(variant, zoo, sampled);
                rows.Add(new SensitivityRow(figure, source, value.Value, v,
                    Tau(baseline.ZooLatency, priced.ZooLatency), Tau(baseline.SpaceLatency, priced.SpaceLatency), Tau(baseline.ZooEnergy, priced.ZooEnergy),
                    priced.ZooLatency.Concat(priced.SpaceLatency).Count(double.IsNaN), PaperFindings.Evaluate(variant),
                    hw.CalibrationSource.Length > 0 && refitFailure is null ? Calibration.Check(variant, Calibration.Pixel6) : null, refitFailure));
            }
        }
        return new SensitivityReport(hw, factor, candidates, seed, findings, rows, notVaried);
    }

    /// <summary>The preset with one figure changed, written and read back as a hardware file so derived numbers (energies) follow; refitted if calibrated.</summary>
    private static (HardwareConfig Variant, string? RefitFailure) Variant(HardwareConfig hw, Json.JsonObject file, SensitivityFigure figure, double value)
    {
        var copy = file.DeepClone().AsObject();
        Set(copy, figure.Key, value);
        if (!hw.Host.DeviceDram && figure.Key == "host.link_gb_per_s") Set(copy, "off_chip_gb_per_s", value); // one link, one bandwidth
        copy.Remove("calibration");
        var variant = HardwareFile.Parse(copy.ToJsonString(), $"{hw.Name} with {figure.Key} = {value.ToString(CultureInfo.InvariantCulture)}");
        if (hw.CalibrationSource.Length == 0) return (variant, null);
        try
        {
            var fit = Calibration.Fit(variant, Calibration.Pixel6);
            return (variant with { CalibrationSlope = fit.Slope, CalibrationInterceptMs = fit.InterceptMs, CalibrationSource = "refitted" }, null);
        }
        catch (UnmappableNetworkException e)
        {
            return (variant, e.Message);
        }
    }

    private static double? Get(Json.JsonObject file, string key)
    {
        var (obj, name) = Locate(file, key);
        return obj?[name] is Json.JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
    }

    private static void Set(Json.JsonObject file, string key, double value)
    {
        var (obj, name) = Locate(file, key);
        obj![name] = value;
    }

    private static (Json.JsonObject? Object, string Name) Locate(Json.JsonObject file, string key) =>
        key.StartsWith("host.", StringComparison.Ordinal) ? (file["host"] as Json.JsonObject, key["host.".Length..]) : (file, key);

    /// <summary>The source tag the preset gives a figure (the letter of "[A]", "[R]", ...), "A" when it names none.</summary>
    public static string SourceOf(HardwareConfig hw, SensitivityFigure figure)
    {
        foreach (var (key, text) in hw.Sources)
        {
            var names = key.Split(',');
            var matches = names.Contains(figure.Field) || names.Contains("memories") && figure.Field is "CoreMemBytes" or "PeMemBytes";
            if (matches && text.Length > 1 && text[0] == '[') return text[1].ToString();
        }
        return "A";
    }

    private sealed record Prices(double[] ZooLatency, double[] ZooEnergy, double[] SpaceLatency);

    private static Prices Price(HardwareConfig hw, IReadOnlyList<Network> zoo, IReadOnlyList<Network> sampled)
    {
        var cache = new LayerCostCache();
        (double Latency, double Energy) One(Network n)
        {
            try
            {
                var r = CostModel.Estimate(n, hw, Fidelity.Analytical, cache);
                return (r.LatencyMs, r.EnergyMj);
            }
            catch (UnmappableNetworkException)
            {
                return (double.NaN, double.NaN);
            }
        }
        var z = zoo.Select(One).ToArray();
        return new Prices(z.Select(x => x.Latency).ToArray(), z.Select(x => x.Energy).ToArray(), sampled.Select(n => One(n).Latency).ToArray());
    }

    // Pairs that do not price on either side are left out.
    private static double Tau(double[] a, double[] b)
    {
        var keep = Enumerable.Range(0, a.Length).Where(i => !double.IsNaN(a[i]) && !double.IsNaN(b[i])).ToArray();
        return keep.Length < 2 ? double.NaN : Statistics.KendallTau(keep.Select(i => a[i]).ToArray(), keep.Select(i => b[i]).ToArray());
    }
}

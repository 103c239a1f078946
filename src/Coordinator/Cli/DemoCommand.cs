using System.CommandLine;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// <c>nascluster demo</c>: the README's main job. For now a cost-free tour of what exists: the zoo,
/// the built-in spaces, sampling, and the arch.json round trip; it grows into a short real search.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var demo = new Command("demo", "A short tour: zoo models, the built-in search spaces, sampled candidates, arch.json export.");
        var outDir = new Option<string>("--out") { Description = "Where to write the exported arch.json files.", DefaultValueFactory = _ => "nascluster-demo" };
        var seed = Options.Long("--seed", "Seed of the sampled candidates.", 1);
        demo.Add(outDir);
        demo.Add(seed);
        demo.SetAction(p => CliApp.Guard(p, o => Run(o, p.GetValue(outDir)!, p.GetValue(seed))));
        return demo;
    }

    private static int Run(CliOutput o, string outDir, long seed)
    {
        o.Console.Write(new Rule("[bold]Reference networks[/] (nascluster zoo list)").LeftJustified());
        var zoo = new Table().Border(TableBorder.Simple).AddColumns("model", "params", "MACs", "int8 weights");
        foreach (var name in new[] { "mobilenet-v2", "mobilenet-edgetpu", "mobilenet-edgetpu-v2-s", "efficientnet-edgetpu-s", "resnet-50" })
        {
            var n = ModelZoo.Build(name);
            zoo.AddRow(name, Format.Count(n.Params), Format.Count(n.Macs), Format.Bytes(n.WeightBytesInt8));
        }
        o.Console.Write(zoo);

        o.Console.Write(new Rule("[bold]Built-in search spaces[/] (nascluster spaces list)").LeftJustified());
        foreach (var name in BuiltInSpaces.Names)
        {
            var s = BuiltInSpaces.Load(name);
            o.Out.WriteLine($"  {s.Name,-30} {s.Task,-15} {s.Decisions.Length,3} decisions, 10^{s.Log10Size:0.0} candidates");
        }

        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        o.Console.Write(new Rule($"[bold]Five candidates of {space.Name}[/] (nascluster spaces sample {space.Name} --seed {seed} --count 5)").LeftJustified());
        var rng = new DeterministicRng(unchecked((ulong)seed));
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "hash", "params", "MACs", "candidate", "exported to");
        for (var i = 0; i < 5; i++)
        {
            var c = space.Sample(rng);
            var n = space.Build(c);
            var path = Path.Combine(outDir, $"candidate{i}.arch.json");
            ArchCommands.Save(n, path);
            var back = ArchJson.ReadFile(path);
            if (back.Hash != n.Hash) throw new InvalidOperationException($"arch.json round trip changed the network ({path})");
            var blocks = CandidateSummary.Compact(c);
            table.AddRow(i.ToString(), n.Hash[..12], Format.Count(n.Params), Format.Count(n.Macs), blocks, Markup.Escape(path));
        }
        o.Console.Write(table);
        o.Out.WriteLine($"Each file re-reads to the same architecture hash. Inspect one with: nascluster arch show {Path.Combine(outDir, "candidate0.arch.json")}");
        return ExitCodes.Ok;
    }
}

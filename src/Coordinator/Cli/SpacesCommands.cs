using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster spaces list|info|validate|sample</c>: search spaces.</summary>
internal static class SpacesCommands
{
    public static Command Build()
    {
        var spaces = new Command("spaces", "Search spaces: the built-in ones, and files you write (see docs/search-spaces.md).");

        var list = new Command("list", "List the built-in search spaces.");
        list.SetAction(p => CliApp.Guard(p, List));
        spaces.Add(list);

        var info = new Command("info", "Show a space's decisions, their choices after rules, the rules and the space size.");
        var infoTarget = SpaceArgument();
        var infoJson = new Option<bool>("--json") { Description = "Print JSON." };
        info.Add(infoTarget);
        info.Add(infoJson);
        info.SetAction(p => CliApp.Guard(p, o => Info(o, BuiltInSpaces.Resolve(p.GetValue(infoTarget)!), p.GetValue(infoJson))));
        spaces.Add(info);

        var validate = new Command("validate", "Check a search-space file: schema, rules, and that sampled candidates build valid networks.");
        var validateTarget = new Argument<string>("FILE") { Description = "A search-space JSON file (or a built-in name)." };
        var samples = Options.Int("--samples", "Random candidates to build besides the first and last choices.", 200);
        var validateSeed = Options.Long("--seed", "Seed of the sampled candidates.", 0);
        validate.Add(validateTarget);
        validate.Add(samples);
        validate.Add(validateSeed);
        validate.SetAction(p => CliApp.Guard(p, o => Validate(o, p.GetValue(validateTarget)!, p.GetValue(samples), p.GetValue(validateSeed))));
        spaces.Add(validate);

        var sample = new Command("sample", "Draw seeded uniform samples: candidate, architecture hash, parameters and MACs.");
        var sampleTarget = SpaceArgument();
        var seed = Options.Long("--seed", "Random seed (same seed, same candidates).");
        var count = Options.Int("--count", "Number of candidates.", 1);
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line (candidate, vector, hash, params, macs)." };
        var saveDir = new Option<string?>("--save-dir") { Description = "Also write each candidate's network as DIR/<hash>.arch.json." };
        sample.Add(sampleTarget);
        sample.Add(seed);
        sample.Add(count);
        sample.Add(json);
        sample.Add(saveDir);
        sample.SetAction(p => CliApp.Guard(p, o => Sample(o, BuiltInSpaces.Resolve(p.GetValue(sampleTarget)!), p.GetValue(seed),
            p.GetValue(count), p.GetValue(json), p.GetValue(saveDir))));
        spaces.Add(sample);
        return spaces;
    }

    private static Argument<string> SpaceArgument() =>
        new("SPACE") { Description = "A search-space JSON file or the name of a built-in space (see `spaces list`)." };

    private static int List(CliOutput o)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("name", "task", "decisions", "size", "description");
        foreach (var name in BuiltInSpaces.Names)
        {
            var s = BuiltInSpaces.Load(name);
            table.AddRow(s.Name, s.Task, s.Decisions.Length.ToString(), $"10^{s.Log10Size:0.0}", Markup.Escape(s.Description));
        }
        o.Console.Write(table);
        o.Out.WriteLine("Copy one from spaces/ and edit it, then pass the file path instead of the name.");
        return ExitCodes.Ok;
    }

    private static int Info(CliOutput o, Space s, bool json)
    {
        if (json)
        {
            o.Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("task", s.Task);
                w.WriteString("source", s.Source);
                w.WriteString("description", s.Description);
                w.WriteString("fingerprint", s.Fingerprint);
                w.WriteNumber("resolution", s.Resolution);
                w.WriteString("size", s.Size.ToString(CultureInfo.InvariantCulture));
                w.WriteNumber("log10_size", Math.Round(s.Log10Size, 4));
                w.WriteStartArray("decisions");
                foreach (var d in s.Decisions)
                {
                    w.WriteStartObject();
                    w.WriteString("name", d.Name);
                    w.WriteString("field", d.Field);
                    if (d.Stage is { } st) w.WriteNumber("stage", st);
                    if (d.Block is { } bl) w.WriteNumber("block", bl);
                    w.WriteStartArray("choices");
                    foreach (var c in d.Choices) c.WriteTo(w);
                    w.WriteEndArray();
                    w.WriteStartArray("removed_by_rules");
                    foreach (var c in d.DeclaredChoices.Where(c => !d.Choices.Contains(c))) c.WriteTo(w);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("rules");
                foreach (var r in s.Rules)
                {
                    w.WriteStartObject();
                    w.WriteString("path", r.Path);
                    w.WriteString("rule", r.Description);
                    w.WriteString("why", r.Why);
                    w.WriteNumber("choices_removed", r.ChoicesRemoved);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            });
            return ExitCodes.Ok;
        }

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("space", Markup.Escape(s.Name));
        grid.AddRow("task", s.Task);
        grid.AddRow("source", Markup.Escape(s.Source));
        grid.AddRow(s.Task == "nlp" ? "sequence length" : "resolution", s.Resolution.ToString());
        grid.AddRow("description", Markup.Escape(s.Description));
        grid.AddRow("decisions", s.Decisions.Length.ToString());
        grid.AddRow("size", $"{s.Size.ToString(CultureInfo.InvariantCulture)} (10^{s.Log10Size:0.00}) decision vectors");
        grid.AddRow("fingerprint", s.Fingerprint);
        o.Console.Write(grid);

        var table = new Table().Border(TableBorder.Simple).AddColumns("decision", "field", "stage", "block", "choices", "removed by rules");
        foreach (var d in s.Decisions)
            table.AddRow(Markup.Escape(d.Name), d.Field, d.Stage?.ToString() ?? "-", d.Block?.ToString() ?? "-",
                Markup.Escape(string.Join(", ", d.Choices.Select(c => c.ToString()))),
                Markup.Escape(string.Join(", ", d.DeclaredChoices.Where(c => !d.Choices.Contains(c)))));
        o.Console.Write(table);
        if (s.Rules.Length > 0)
        {
            var rules = new Table().Border(TableBorder.Simple).AddColumns("rule", "removes", "why");
            foreach (var r in s.Rules) rules.AddRow(Markup.Escape(r.Description), r.ChoicesRemoved.ToString(), Markup.Escape(r.Why));
            o.Console.Write(rules);
        }
        return ExitCodes.Ok;
    }

    private static int Validate(CliOutput o, string target, int samples, long seed)
    {
        if (samples < 0) throw new NasInputException($"--samples must not be negative (got {samples})");
        var s = BuiltInSpaces.Resolve(target);
        var candidates = new List<Candidate>
        {
            s.FromVector(new int[s.Decisions.Length]),
            s.FromVector(s.Decisions.Select(d => d.Choices.Length - 1).ToArray()),
        };
        var rng = new DeterministicRng(unchecked((ulong)seed));
        for (var i = 0; i < samples; i++) candidates.Add(s.Sample(rng));
        long minParams = long.MaxValue, maxParams = 0, minMacs = long.MaxValue, maxMacs = 0;
        var hashes = new HashSet<string>();
        foreach (var c in candidates)
        {
            var n = s.Build(c);
            minParams = Math.Min(minParams, n.Params);
            maxParams = Math.Max(maxParams, n.Params);
            minMacs = Math.Min(minMacs, n.Macs);
            maxMacs = Math.Max(maxMacs, n.Macs);
            hashes.Add(n.Hash);
        }
        o.Out.WriteLine($"{s.Source}: valid {s.Task} space '{s.Name}'");
        o.Out.WriteLine($"  {s.Decisions.Length} decisions, {s.Rules.Length} rules, size 10^{s.Log10Size:0.00}");
        o.Out.WriteLine($"  built {candidates.Count} candidates ({hashes.Count} distinct networks): " +
                        $"params {Format.Count(minParams)}–{Format.Count(maxParams)}, MACs {Format.Count(minMacs)}–{Format.Count(maxMacs)}");
        return ExitCodes.Ok;
    }

    private static int Sample(CliOutput o, Space s, long seed, int count, bool json, string? saveDir)
    {
        if (count < 1) throw new NasInputException($"--count must be at least 1 (got {count})");
        var rng = new DeterministicRng(unchecked((ulong)seed));
        Table? table = json ? null : new Table().Border(TableBorder.Simple).AddColumns("#", "hash", "params", "MACs", "candidate");
        for (var i = 0; i < count; i++)
        {
            var c = s.Sample(rng);
            var n = s.Build(c);
            if (saveDir is not null) ArchCommands.Save(n, Path.Combine(saveDir, $"{n.Hash}.arch.json"));
            if (json)
            {
                o.Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", i);
                    w.WriteString("space", s.Name);
                    w.WritePropertyName("candidate");
                    using (var doc = JsonDocument.Parse(c.ToJson())) doc.RootElement.WriteTo(w);
                    w.WriteStartArray("vector");
                    foreach (var x in c.Vector) w.WriteNumberValue(x);
                    w.WriteEndArray();
                    w.WriteString("hash", n.Hash);
                    w.WriteNumber("params", n.Params);
                    w.WriteNumber("macs", n.Macs);
                    w.WriteNumber("weight_bytes", n.WeightBytesInt8);
                    w.WriteEndObject();
                }, indented: false);
            }
            else
            {
                table!.AddRow(i.ToString(), n.Hash[..16], Format.Count(n.Params), Format.Count(n.Macs), Markup.Escape(CandidateSummary.Compact(c)));
            }
        }
        if (table is not null) o.Console.Write(table);
        return ExitCodes.Ok;
    }
}

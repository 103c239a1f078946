using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// Reads a search-space document (format <c>nascluster-space</c>, version 1; see docs/search-spaces.md)
/// into a <see cref="Space"/>. Every field of the topology template may be a fixed value, an
/// inline decision <c>{"choices": [...]}</c> or a reference <c>{"decision": "name"}</c> to a decision
/// declared once under <c>"decisions"</c> and shared. Rules then filter choices by position. Any
/// problem is reported with the file, the JSON path and the reason.
/// </summary>
public static class SearchSpaceLoader
{
    public const string Format = "nascluster-space";
    public const int Version = 1;

    public static readonly string[] Tasks = ["classification", "segmentation", "detection", "nlp"];

    public static Space Load(string path)
    {
        var root = JsonNode.Load(path);
        return FromJson(root, path);
    }

    public static Space Parse(string text, string? file = null) => FromJson(JsonNode.Parse(text, file), file ?? "(text)");

    public static Space FromJson(JsonNode root, string source)
    {
        var ctx = new Context(root);
        root.AllowOnly("format", "version", "name", "description", "task", "input", "decisions", "backbone", "head", "encoder", "rules");
        var format = root.Prop("format");
        if (format.AsString() != Format) throw format.Error($"expected \"{Format}\" (is this a search-space file?)");
        var version = root.Prop("version");
        if (version.AsInt() != Version) throw version.Error($"unsupported version {version.AsInt()} (this build reads version {Version})");
        var name = root.Prop("name").AsString();
        if (name.Length == 0) throw root.Prop("name").Error("the name must not be empty");
        var description = root.TryProp("description", out var d) ? d.AsString() : "";
        var taskNode = root.Prop("task");
        var task = taskNode.AsString();
        if (Array.IndexOf(Tasks, task) < 0) throw taskNode.Error($"unknown task \"{task}\" (known: {string.Join(", ", Tasks)})");

        if (root.TryProp("decisions", out var declared))
            foreach (var key in declared.ExpectObject().Keys)
                ctx.Declare(key, declared.Prop(key));

        SpaceTemplate template = task == "nlp" ? ReadNlp(ctx, root) : ReadVision(ctx, root, task);

        var rules = root.TryProp("rules", out var rulesNode)
            ? rulesNode.Items().Select(r => ctx.ApplyRule(r)).ToImmutableArray()
            : ImmutableArray<SpaceRule>.Empty;
        ctx.CheckAllDeclaredUsed();
        ctx.CheckNoEmptyDecisions();
        return new Space(name, description, task, source, ctx.Decisions(), rules, template, CanonicalJson(root.Element));
    }

    private static SpaceTemplate ReadVision(Context ctx, JsonNode root, string task)
    {
        if (root.Has("encoder")) throw root.Prop("encoder").Error($"\"encoder\" belongs to nlp spaces, not {task}");
        var input = root.Prop("input");
        input.AllowOnly("resolution", "channels");
        var resolution = Range(input.Prop("resolution"), 8, 4096);
        var channels = input.TryProp("channels", out var c) ? Range(c, 1, 64) : 3;

        var backbone = root.Prop("backbone");
        backbone.AllowOnly("stem", "stages");
        var stemNode = backbone.Prop("stem");
        stemNode.AllowOnly("filters", "kernel", "stride");
        var stem = new StemTemplate(
            ctx.Filters(stemNode, "stem", null, null),
            ctx.Field(stemNode, "kernel", "stem.kernel", null, null, Validators.Kernel),
            ctx.Field(stemNode, "stride", "stem.stride", null, null, Validators.Stride, ChoiceValue.Of(2)));

        var stages = new List<StageTemplate>();
        foreach (var s in backbone.Prop("stages").Items())
            stages.Add(ReadStage(ctx, s, stages.Count, isHead: false));
        if (stages.Count == 0) throw backbone.Prop("stages").Error("a backbone needs at least one stage");

        var headNode = root.Prop("head");
        var headType = headNode.Prop("type");
        HeadTemplate head;
        switch (task)
        {
            case "classification":
                if (headType.AsString() != "classification") throw headType.Error("a classification space needs a \"classification\" head");
                headNode.AllowOnly("type", "top_filters", "classes");
                head = new ClassificationHeadTemplate(
                    headNode.TryProp("top_filters", out _) ? ctx.Field(headNode, "top_filters", "head.top_filters", null, null, Validators.Filters) : null,
                    Range(headNode.Prop("classes"), 1, 100_000));
                break;
            case "segmentation":
                if (headType.AsString() != "bifpn") throw headType.Error("a segmentation space needs a \"bifpn\" head");
                headNode.AllowOnly("type", "min_level", "max_level", "channels", "repeats", "head_channels", "classes");
                head = new BiFpnHeadTemplate(
                    ctx.Field(headNode, "min_level", "head.min_level", null, null, Validators.Level),
                    ctx.Field(headNode, "max_level", "head.max_level", null, null, Validators.Level, ChoiceValue.Of(7)),
                    ctx.Field(headNode, "channels", "head.channels", null, null, Validators.Filters),
                    ctx.Field(headNode, "repeats", "head.repeats", null, null, Validators.Repeats),
                    ctx.Field(headNode, "head_channels", "head.head_channels", null, null, Validators.Filters, ChoiceValue.Of(64)),
                    Range(headNode.Prop("classes"), 1, 100_000));
                break;
            default:
            {
                if (headType.AsString() != "ssd") throw headType.Error("a detection space needs an \"ssd\" head");
                headNode.AllowOnly("type", "blocks", "outputs", "anchors", "classes");
                foreach (var s in headNode.Prop("blocks").Items())
                    stages.Add(ReadStage(ctx, s, stages.Count, isHead: true));
                var outputsNode = headNode.Prop("outputs");
                var outputs = outputsNode.Items().Select(o => Range(o, 0, stages.Count - 1)).ToList();
                if (outputs.Count == 0) throw outputsNode.Error("at least one output stage is needed");
                var anchorsNode = headNode.Prop("anchors");
                var anchors = anchorsNode.Items().Select(a => Range(a, 1, 64)).ToList();
                if (anchors.Count != outputs.Count)
                    throw anchorsNode.Error($"{anchors.Count} anchor counts for {outputs.Count} outputs");
                head = new SsdHeadTemplate(outputs, anchors, Range(headNode.Prop("classes"), 1, 100_000));
                break;
            }
        }
        return new SpaceTemplate(task, resolution, channels, stem, stages, head);
    }

    private static StageTemplate ReadStage(Context ctx, JsonNode s, int index, bool isHead)
    {
        string[] keys = isHead
            ? ["name", "filters", "repeats", "per_block", "block", "blocks", "inputs", "level"]
            : ["name", "filters", "stride", "repeats", "per_block", "block", "blocks"];
        s.AllowOnly(keys);
        var name = s.TryProp("name", out var n) ? n.AsString() : (isHead ? $"h{index}" : $"s{index}");
        if (name.Length == 0 || name.Contains('.') || name.Contains('/'))
            throw (n.Path is null ? s : n).Error($"stage name \"{name}\" must be non-empty without '.' or '/'");
        ctx.ClaimStageName(name, s);

        var filters = ctx.Filters(s, name, index, null);
        var stride = isHead ? Slot.Constant("stride", s.Path, ChoiceValue.Of(1))
            : ctx.Field(s, "stride", $"{name}.stride", index, null, Validators.Stride, ChoiceValue.Of(1));
        Slot? level = isHead ? ctx.Field(s, "level", $"{name}.level", index, null, Validators.Level) : null;
        var inputs = new List<Slot>();
        if (isHead)
        {
            var inputsNode = s.Prop("inputs");
            var items = inputsNode.Items();
            if (items.Count != 2) throw inputsNode.Error($"a head block reads exactly two earlier blocks (got {items.Count})");
            for (var k = 0; k < items.Count; k++)
                inputs.Add(ctx.SlotFrom(items[k], $"input{k}", $"{name}.input{k}", index, null, Validators.EarlierStage(index)));
        }

        var perBlock = s.TryProp("per_block", out var pb) && pb.AsBool();
        var blocks = new List<BlockTemplate>();
        Slot repeats;
        int maxRepeats;
        if (s.TryProp("blocks", out var list))
        {
            if (s.Has("block") || s.Has("repeats") || s.Has("per_block"))
                throw list.Error("give either \"blocks\" (one entry per block) or \"block\" with \"repeats\", not both");
            var items = list.Items();
            if (items.Count == 0) throw list.Error("a stage needs at least one block");
            for (var i = 0; i < items.Count; i++) blocks.Add(ReadBlock(ctx, items[i], name, index, i, $"{name}.b{i}"));
            repeats = Slot.Constant("repeats", list.Path, ChoiceValue.Of(items.Count));
            maxRepeats = items.Count;
            perBlock = true;
        }
        else
        {
            var blockNode = s.Prop("block");
            repeats = ctx.Field(s, "repeats", $"{name}.repeats", index, null, Validators.Repeats, ChoiceValue.Of(1));
            maxRepeats = ctx.MaxOf(repeats);
            if (perBlock)
                for (var i = 0; i < maxRepeats; i++) blocks.Add(ReadBlock(ctx, blockNode, name, index, i, $"{name}.b{i}"));
            else
                blocks.Add(ReadBlock(ctx, blockNode, name, index, null, name));
        }
        return new StageTemplate(name, index, filters, stride, repeats, maxRepeats, blocks, perBlock, inputs, level);
    }

    private static BlockTemplate ReadBlock(Context ctx, JsonNode node, string stage, int stageIndex, int? block, string prefix)
    {
        node.AllowOnly("type", "kernel", "expansion", "group_size", "pointwise_expansion");
        var type = ctx.Field(node, "type", $"{prefix}.type", stageIndex, block, Validators.BlockType);
        if (block is null or 0 && ctx.MayBe(type, "skip"))
            throw node.Prop("type").Error($"the first block of stage '{stage}' cannot be \"skip\": it sets the stage's width and stride");
        return new BlockTemplate(
            type,
            ctx.Field(node, "kernel", $"{prefix}.kernel", stageIndex, block, Validators.Kernel),
            ctx.Field(node, "expansion", $"{prefix}.expansion", stageIndex, block, Validators.Expansion),
            ctx.Field(node, "group_size", $"{prefix}.group_size", stageIndex, block, Validators.GroupSize, ChoiceValue.Of(32)),
            ctx.Field(node, "pointwise_expansion", $"{prefix}.pointwise_expansion", stageIndex, block, Validators.Expansion, ChoiceValue.Of(1)));
    }

    private static SpaceTemplate ReadNlp(Context ctx, JsonNode root)
    {
        foreach (var k in new[] { "input", "backbone", "head" })
            if (root.Has(k)) throw root.Prop(k).Error($"\"{k}\" does not apply to nlp spaces (they have an \"encoder\")");
        var e = root.Prop("encoder");
        e.AllowOnly("sequence_length", "vocabulary", "embedding_dim", "hidden", "layers", "per_layer", "layer", "outputs");
        var layers = ctx.Field(e, "layers", "encoder.layers", null, null, Validators.Layers);
        var maxLayers = ctx.MaxOf(layers);
        var perLayer = e.TryProp("per_layer", out var pl) && pl.AsBool();
        var layerNode = e.Prop("layer");
        EncoderLayerTemplate Layer(string prefix, int? index)
        {
            layerNode.AllowOnly("bottleneck", "heads", "ffn_count", "ffn_size");
            return new EncoderLayerTemplate(
                ctx.Field(layerNode, "bottleneck", $"{prefix}.bottleneck", null, index, Validators.Filters),
                ctx.Field(layerNode, "heads", $"{prefix}.heads", null, index, Validators.Heads),
                ctx.Field(layerNode, "ffn_count", $"{prefix}.ffn_count", null, index, Validators.FfnCount),
                ctx.Field(layerNode, "ffn_size", $"{prefix}.ffn_size", null, index, Validators.Filters));
        }
        var templates = perLayer
            ? Enumerable.Range(0, maxLayers).Select(i => Layer($"encoder.l{i}", i)).ToList()
            : [Layer("encoder", null)];
        var encoder = new EncoderTemplate(
            Range(e.Prop("sequence_length"), 1, 4096),
            Range(e.Prop("vocabulary"), 1, 1_000_000),
            Range(e.Prop("embedding_dim"), 1, 8192),
            layers, maxLayers, perLayer, templates,
            ctx.Field(e, "hidden", "encoder.hidden", null, null, Validators.Filters),
            e.TryProp("outputs", out var o) ? Range(o, 1, 100_000) : 2);
        return new SpaceTemplate("nlp", encoder.SequenceLength, 1, null, [], encoder);
    }

    private static int Range(JsonNode node, int min, int max)
    {
        var v = node.AsInt();
        if (v < min || v > max) throw node.Error($"must be between {min} and {max} (got {v})");
        return v;
    }

    /// <summary>Compact JSON with sorted keys: the basis of a space's fingerprint.</summary>
    internal static string CanonicalJson(JsonElement e)
    {
        var sb = new StringBuilder();
        void Write(JsonElement x)
        {
            switch (x.ValueKind)
            {
                case JsonValueKind.Object:
                    sb.Append('{');
                    var first = true;
                    foreach (var p in x.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                    {
                        if (!first) sb.Append(',');
                        first = false;
                        sb.Append(JsonSerializer.Serialize(p.Name)).Append(':');
                        Write(p.Value);
                    }
                    sb.Append('}');
                    break;
                case JsonValueKind.Array:
                    sb.Append('[');
                    var i = 0;
                    foreach (var item in x.EnumerateArray())
                    {
                        if (i++ > 0) sb.Append(',');
                        Write(item);
                    }
                    sb.Append(']');
                    break;
                case JsonValueKind.String:
                    sb.Append(JsonSerializer.Serialize(x.GetString()));
                    break;
                default:
                    sb.Append(x.GetRawText());
                    break;
            }
        }
        Write(e);
        return sb.ToString();
    }

    /// <summary>Loader state: decisions being created, named declarations, every slot for rule checking.</summary>
    private sealed class Context(JsonNode root)
    {
        private sealed class Draft
        {
            public required string Name;
            public required List<ChoiceValue> Choices;
            public required List<string> ChoicePaths;
            public required List<ChoiceValue> Declared;
            public required string Field;
            public int? Stage;
            public int? Block;
            public required string Path;
            public bool Shared;
        }

        private readonly List<Draft> _drafts = [];
        private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);
        private readonly Dictionary<string, JsonNode> _declared = new(StringComparer.Ordinal);
        private readonly List<(Slot Slot, int? Stage, int? Block)> _constants = [];
        private readonly Dictionary<string, string> _stageNames = new(StringComparer.Ordinal);

        public void Declare(string name, JsonNode node)
        {
            if (name.Length == 0) throw node.Error("a decision name must not be empty");
            _declared[name] = node;
        }

        public void ClaimStageName(string name, JsonNode node)
        {
            if (!_stageNames.TryAdd(name, node.Path))
                throw node.Error($"stage name '{name}' is already used at {_stageNames[name]}");
        }

        public FiltersSlot Filters(JsonNode parent, string prefix, int? stage, int? block)
        {
            var node = parent.Prop("filters");
            if (node.Kind == JsonValueKind.Object && node.Has("base"))
            {
                node.AllowOnly("base", "multiplier", "divisor");
                var @base = node.Prop("base").AsInt(1);
                var divisor = node.TryProp("divisor", out var dv) ? dv.AsInt(1) : 8;
                var multiplier = Field(node, "multiplier", $"{prefix}.multiplier", stage, block, Validators.Multiplier);
                return new FiltersSlot(null, @base, multiplier, divisor);
            }
            return new FiltersSlot(Field(parent, "filters", $"{prefix}.filters", stage, block, Validators.Filters), 0, null, 8);
        }

        public Slot Field(JsonNode parent, string key, string autoName, int? stage, int? block,
            Action<JsonNode, ChoiceValue> validate, ChoiceValue? fallback = null)
        {
            if (!parent.TryProp(key, out var node))
            {
                if (fallback is { } f)
                {
                    var slot = global::NasCluster.Shared.SearchSpace.Slot.Constant(key, $"{parent.Path}.{key}", f);
                    _constants.Add((slot, stage, block));
                    return slot;
                }
                throw parent.Error($"missing required key \"{key}\"");
            }
            return SlotFrom(node, key, autoName, stage, block, validate);
        }

        public Slot SlotFrom(JsonNode node, string key, string autoName, int? stage, int? block, Action<JsonNode, ChoiceValue> validate)
        {
            switch (node.Kind)
            {
                case JsonValueKind.Number or JsonValueKind.String:
                {
                    var v = ChoiceValue.From(node);
                    validate(node, v);
                    var slot = new Slot(key, node.Path, v, -1);
                    _constants.Add((slot, stage, block));
                    return slot;
                }
                case JsonValueKind.Object when node.Has("decision"):
                {
                    node.AllowOnly("decision");
                    var refNode = node.Prop("decision");
                    var name = refNode.AsString();
                    if (!_declared.TryGetValue(name, out var declaration))
                        throw refNode.Error($"no decision named \"{name}\" is declared under \"decisions\"");
                    if (_byName.TryGetValue(name, out var existing))
                    {
                        var draft = _drafts[existing];
                        for (var i = 0; i < draft.Choices.Count; i++)
                            validate(new JsonNode(default, draft.ChoicePaths[i], node.File), draft.Choices[i]);
                        draft.Shared = true;
                        draft.Stage = draft.Stage == stage ? stage : null;
                        draft.Block = draft.Block == block ? block : null;
                        return new Slot(key, node.Path, null, existing);
                    }
                    declaration.AllowOnly("choices");
                    return new Slot(key, node.Path, null, Create(name, declaration.Prop("choices"), key, stage, block, validate));
                }
                case JsonValueKind.Object when node.Has("choices"):
                {
                    node.AllowOnly("choices", "name");
                    var name = node.TryProp("name", out var n) ? n.AsString() : autoName;
                    if (_declared.ContainsKey(name))
                        throw node.Error($"decision name \"{name}\" is also declared under \"decisions\"; reference it with {{\"decision\": \"{name}\"}}");
                    return new Slot(key, node.Path, null, Create(name, node.Prop("choices"), key, stage, block, validate));
                }
                default:
                    throw node.Error("expected a fixed value, {\"choices\": [...]} or {\"decision\": \"name\"}");
            }
        }

        private int Create(string name, JsonNode choicesNode, string field, int? stage, int? block, Action<JsonNode, ChoiceValue> validate)
        {
            if (_byName.TryGetValue(name, out var existing))
                throw choicesNode.Error($"decision name \"{name}\" is already used at {_drafts[existing].Path} (names must be unique; share a decision with {{\"decision\": ...}})");
            var items = choicesNode.Items();
            if (items.Count == 0) throw choicesNode.Error("a decision needs at least one choice");
            var choices = new List<ChoiceValue>();
            var paths = new List<string>();
            foreach (var item in items)
            {
                var v = ChoiceValue.From(item);
                validate(item, v);
                if (choices.Contains(v)) throw item.Error($"duplicate choice {v.ToJson()}");
                choices.Add(v);
                paths.Add(item.Path);
            }
            _drafts.Add(new Draft
            {
                Name = name, Choices = choices, ChoicePaths = paths, Declared = [.. choices], Field = field,
                Stage = stage, Block = block, Path = choicesNode.Path[..^".choices".Length],
            });
            _byName[name] = _drafts.Count - 1;
            return _drafts.Count - 1;
        }

        /// <summary>The largest value a slot can take (for repeats: how many block templates to create).</summary>
        public int MaxOf(Slot slot) =>
            (int)(slot.Fixed is { } f ? f.AsDouble : _drafts[slot.Decision].Choices.Max(c => c.AsDouble));

        public bool MayBe(Slot slot, string text) =>
            slot.Fixed is { } f ? f.AsText == text : _drafts[slot.Decision].Choices.Any(c => c.AsText == text);

        public SpaceRule ApplyRule(JsonNode rule)
        {
            rule.AllowOnly("decisions", "field", "stages", "blocks", "allow", "forbid", "min", "max", "why");
            var why = rule.TryProp("why", out var w) ? w.AsString() : "";
            var field = rule.TryProp("field", out var f) ? f.AsString() : null;
            var globs = rule.TryProp("decisions", out var g) ? g.Items().Select(x => x.AsString()).ToList() : null;
            var stages = rule.TryProp("stages", out var st) ? IndexSet(st) : null;
            var blocks = rule.TryProp("blocks", out var bl) ? IndexSet(bl) : null;
            var allow = rule.TryProp("allow", out var al) ? al.Items().Select(ChoiceValue.From).ToList() : null;
            var forbid = rule.TryProp("forbid", out var fb) ? fb.Items().Select(ChoiceValue.From).ToList() : null;
            double? min = rule.TryProp("min", out var mn) ? mn.AsDouble() : null;
            double? max = rule.TryProp("max", out var mx) ? mx.AsDouble() : null;
            if (field is null && globs is null && stages is null)
                throw rule.Error("a rule must select decisions by \"field\", \"stages\" or \"decisions\"");
            if (allow is null && forbid is null && min is null && max is null)
                throw rule.Error("a rule must filter with \"allow\", \"forbid\", \"min\" or \"max\"");

            bool Selects(string? name, string fieldName, int? stage, int? block) =>
                (field is null || field == fieldName)
                && (stages is null || (stage is { } s && stages(s)))
                && (blocks is null || (block is { } b && blocks(b)))
                && (globs is null || (name is not null && globs.Any(x => Glob(x, name))));

            bool Keeps(ChoiceValue v) =>
                (allow is null || allow.Contains(v) || (v.IsNumber && allow.Any(a => a.IsNumber && a.AsDouble == v.AsDouble)))
                && (forbid is null || !(forbid.Contains(v) || (v.IsNumber && forbid.Any(a => a.IsNumber && a.AsDouble == v.AsDouble))))
                && (min is null || (v.IsNumber && v.AsDouble >= min))
                && (max is null || (v.IsNumber && v.AsDouble <= max));

            var description = Describe(field, globs, rule, allow, forbid, min, max);
            int matched = 0, removed = 0;
            foreach (var d in _drafts)
            {
                if (!Selects(d.Name, d.Field, d.Stage, d.Block)) continue;
                matched++;
                var before = d.Choices.Count;
                var keep = d.Choices.Select((c, i) => (c, i)).Where(x => Keeps(x.c)).ToList();
                if (keep.Count == 0)
                    throw rule.Error($"this rule removes every choice of decision '{d.Name}' ({string.Join(", ", d.Choices.Select(c => c.ToJson()))})");
                d.Choices = keep.Select(x => x.c).ToList();
                d.ChoicePaths = keep.Select(x => d.ChoicePaths[x.i]).ToList();
                removed += before - d.Choices.Count;
            }
            foreach (var (slot, stage, block) in _constants)
            {
                if (!Selects(null, slot.Key, stage, block)) continue;
                matched++;
                if (!Keeps(slot.Fixed!.Value))
                    throw rule.Error($"the fixed value {slot.Fixed.Value.ToJson()} at {slot.Path} breaks this rule ({description})");
            }
            if (matched == 0) throw rule.Error($"this rule selects no decision or field ({description}); check its field, stages and decisions");
            return new SpaceRule(rule.Path, description, why, removed);
        }

        private static string Describe(string? field, List<string>? globs, JsonNode rule, List<ChoiceValue>? allow,
            List<ChoiceValue>? forbid, double? min, double? max)
        {
            var parts = new List<string>();
            if (field is not null) parts.Add($"{field}");
            if (globs is not null) parts.Add($"decisions {string.Join(",", globs)}");
            if (rule.TryProp("stages", out var s)) parts.Add($"stages {s.Raw}");
            if (rule.TryProp("blocks", out var b)) parts.Add($"blocks {b.Raw}");
            if (allow is not null) parts.Add($"allow {string.Join(",", allow)}");
            if (forbid is not null) parts.Add($"forbid {string.Join(",", forbid)}");
            if (min is not null) parts.Add($"min {min}");
            if (max is not null) parts.Add($"max {max}");
            return string.Join(" ", parts);
        }

        private static Func<int, bool> IndexSet(JsonNode node)
        {
            if (node.Kind == JsonValueKind.Array)
            {
                var set = node.Items().Select(i => i.AsInt(0)).ToHashSet();
                return set.Contains;
            }
            node.AllowOnly("from", "to");
            var from = node.TryProp("from", out var f) ? f.AsInt(0) : 0;
            var to = node.TryProp("to", out var t) ? t.AsInt(0) : int.MaxValue;
            if (to < from) throw node.Error($"\"to\" ({to}) is before \"from\" ({from})");
            return i => i >= from && i <= to;
        }

        private static bool Glob(string pattern, string name)
        {
            if (!pattern.Contains('*')) return pattern == name;
            var parts = pattern.Split('*');
            if (!name.StartsWith(parts[0], StringComparison.Ordinal)) return false;
            var pos = parts[0].Length;
            for (var i = 1; i < parts.Length - 1; i++)
            {
                var at = name.IndexOf(parts[i], pos, StringComparison.Ordinal);
                if (at < 0) return false;
                pos = at + parts[i].Length;
            }
            return name.Length - pos >= parts[^1].Length && name.EndsWith(parts[^1], StringComparison.Ordinal);
        }

        public void CheckAllDeclaredUsed()
        {
            foreach (var (name, node) in _declared)
                if (!_byName.ContainsKey(name))
                    throw node.Error($"decision \"{name}\" is declared but never used");
        }

        public void CheckNoEmptyDecisions()
        {
            foreach (var d in _drafts)
                if (d.Choices.Count == 0) throw root.Error($"decision '{d.Name}' has no choices left");
        }

        public ImmutableArray<Decision> Decisions() =>
            _drafts.Select(d => new Decision(d.Name, [.. d.Choices], d.Field, d.Stage, d.Block, d.Path) { DeclaredChoices = [.. d.Declared] })
                .ToImmutableArray();
    }
}

/// <summary>A rule as applied: what it selects and filters, why, and how many choices it removed.</summary>
public sealed record SpaceRule(string Path, string Description, string Why, int ChoicesRemoved);

/// <summary>Value checks per template field, so a bad choice is reported at its own JSON path.</summary>
internal static class Validators
{
    private static Action<JsonNode, ChoiceValue> Int(int min, int max, string what, Func<long, bool>? extra = null, string? extraWhy = null) =>
        (node, v) =>
        {
            if (v.AsInteger is not { } i) throw node.Error($"{what} must be an integer (got {v.ToJson()})");
            if (i < min || i > max) throw node.Error($"{what} must be between {min} and {max} (got {i})");
            if (extra is not null && !extra(i)) throw node.Error($"{what} {extraWhy} (got {i})");
        };

    public static readonly Action<JsonNode, ChoiceValue> Kernel = Int(1, 15, "kernel", k => k % 2 == 1, "must be odd");
    public static readonly Action<JsonNode, ChoiceValue> Stride = Int(1, 2, "stride");
    public static readonly Action<JsonNode, ChoiceValue> Expansion = Int(1, 16, "expansion");
    public static readonly Action<JsonNode, ChoiceValue> GroupSize = Int(1, 4096, "group size");
    public static readonly Action<JsonNode, ChoiceValue> Filters = Int(1, 8192, "channel count");
    public static readonly Action<JsonNode, ChoiceValue> Repeats = Int(1, 16, "repeats");
    public static readonly Action<JsonNode, ChoiceValue> Level = Int(1, 10, "pyramid level");
    public static readonly Action<JsonNode, ChoiceValue> Layers = Int(1, 64, "layer count");
    public static readonly Action<JsonNode, ChoiceValue> Heads = Int(1, 64, "head count");
    public static readonly Action<JsonNode, ChoiceValue> FfnCount = Int(1, 8, "FFN count");

    public static readonly Action<JsonNode, ChoiceValue> Multiplier = (node, v) =>
    {
        if (!v.IsNumber || v.AsDouble <= 0 || v.AsDouble > 8) throw node.Error($"a channel multiplier must be a number in (0, 8] (got {v.ToJson()})");
    };

    public static readonly Action<JsonNode, ChoiceValue> BlockType = BlockTypes.Check;

    public static Action<JsonNode, ChoiceValue> EarlierStage(int index) =>
        Int(0, Math.Max(0, index - 1), index == 0 ? "no earlier stage exists; input" : $"an input of stage {index} must be an earlier stage index, so it");
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Data;

/// <summary>How the NLP proxy's text task is cut from WordNet: sequence length, vocabulary size, examples per class, split seed.</summary>
public sealed record TextRecipe(int SequenceLength = 32, int Vocabulary = 4096, int PerClass = 1500, ulong Seed = 20221207)
{
    public static TextRecipe Default { get; } = new();
}

/// <summary>One split of the text task: N sequences of <see cref="Length"/> token ids (row-major) and N labels.</summary>
public sealed record TextSet(long[] Tokens, byte[] Labels, int Count, int Length);

/// <summary>The text task's splits, its vocabulary and classes, and the content hash of what is trained on.</summary>
public sealed record TextCorpus(TextSet Train, TextSet Validation, TextSet Test, string Directory, string Fingerprint, IReadOnlyList<string> ClassNames,
    int Vocabulary, TextRecipe Recipe)
{
    public int Classes => ClassNames.Count;

    /// <summary>What an experiment records of the corpus (kind "wordnet-glosses"; channels 0: token ids, not pixels).</summary>
    public NasCluster.Shared.Protocol.ExperimentProtocol.ProxyDataset Describe() =>
        new(Glosses.Kind, Directory, Fingerprint, Classes, 0, Train.Count, Validation.Count, ClassNames);
}

/// <summary>
/// The NLP proxy's task: classify a WordNet noun definition (its gloss, without the usage examples) into the
/// lexicographer file its synset belongs to — WordNet's "supersenses" (noun.animal, noun.artifact, …). The data is
/// Debian's <c>wordnet-base</c> (<c>/usr/share/wordnet/data.noun</c>, Princeton WordNet 3.0): real English text,
/// labelled by lexicographers, on every machine without a download. Ten supersenses with at least 2,000 synsets each
/// are kept; each contributes <see cref="TextRecipe.PerClass"/> synsets drawn with the recipe's seed, split per class
/// 80/10/10 into training, validation (the proxy score) and test (the teacher's quality). Text is lower-cased and
/// split on non-letters; the vocabulary is the most frequent training words (ties by word) after the reserved ids
/// 0 (padding) and 1 (unknown); sequences are cut or padded to the recipe's length.
/// </summary>
public static class Glosses
{
    public const string Kind = "wordnet-glosses";
    public const string DefaultDirectory = "/usr/share/wordnet";
    public const string EnvironmentVariable = "NASCLUSTER_WORDNET";
    public const long Padding = 0, Unknown = 1;

    /// <summary>The lexicographer files kept, by number (see lexnames(5WN)), in label order.</summary>
    public static readonly (int File, string Name)[] Supersenses =
    [
        (4, "noun.act"), (5, "noun.animal"), (6, "noun.artifact"), (7, "noun.attribute"), (8, "noun.body"),
        (10, "noun.communication"), (13, "noun.food"), (15, "noun.location"), (18, "noun.person"), (20, "noun.plant"),
    ];

    private static readonly ConcurrentDictionary<string, Lazy<TextCorpus>> Loaded = new();

    public static string ResolveDirectory(string? directory) =>
        directory ?? (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } d ? d : DefaultDirectory);

    /// <summary>The corpus (once per process, directory and recipe).</summary>
    /// <exception cref="NasInputException">WordNet missing or malformed: one line naming the problem.</exception>
    public static TextCorpus Load(string? directory = null, TextRecipe? recipe = null)
    {
        recipe ??= TextRecipe.Default;
        if (recipe.SequenceLength < 4 || recipe.Vocabulary < 16 || recipe.PerClass < 10)
            throw new NasInputException($"a text recipe needs a sequence length of at least 4, a vocabulary of at least 16 and 10 examples per class (got {recipe})");
        var dir = Path.GetFullPath(ResolveDirectory(directory));
        var key = $"{dir}|{recipe}";
        var lazy = Loaded.GetOrAdd(key, _ => new Lazy<TextCorpus>(() => Read(dir, recipe)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Loaded.TryRemove(key, out _);
            throw;
        }
    }

    private static TextCorpus Read(string dir, TextRecipe recipe)
    {
        var file = Path.Combine(dir, "data.noun");
        if (!File.Exists(file))
            throw new NasInputException("no WordNet noun data here (the NLP proxy reads data.noun of Debian's wordnet-base: apt install wordnet-base)", file);
        var byFile = Supersenses.Select((s, i) => (s.File, Label: i)).ToDictionary(p => p.File, p => p.Label);
        var perClass = Supersenses.Select(_ => new List<(long Offset, string Text)>()).ToArray();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(file, Encoding.UTF8))
        {
            lineNumber++;
            if (line.StartsWith("  ", StringComparison.Ordinal) || line.Length == 0) continue; // the licence header
            var bar = line.IndexOf(" | ", StringComparison.Ordinal);
            var fields = line.Split(' ', 3);
            if (bar < 0 || fields.Length < 3 || !long.TryParse(fields[0], out var offset) || !int.TryParse(fields[1], out var lex))
                throw new NasInputException($"line {lineNumber} is not a WordNet synset (offset, lexicographer file, …, \" | \" gloss)", file);
            if (byFile.TryGetValue(lex, out var label)) perClass[label].Add((offset, Definition(line[(bar + 3)..])));
        }
        var small = Supersenses.Where((_, i) => perClass[i].Count < recipe.PerClass).Select(s => s.Name).ToList();
        if (small.Count > 0)
            throw new NasInputException($"{string.Join(", ", small)} {(small.Count == 1 ? "has" : "have")} fewer than {recipe.PerClass} synsets: not WordNet 3.0's noun data", file);

        // Per class: a seeded draw of PerClass synsets (in file order first, so the draw does not depend on anything but the data and seed), split 80/10/10.
        var rng = new DeterministicRng(recipe.Seed);
        var split = new List<(string Text, byte Label)>[3] { [], [], [] };
        for (var c = 0; c < perClass.Length; c++)
        {
            var items = perClass[c].OrderBy(p => p.Offset).ToArray();
            for (var i = items.Length - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }
            var validation = recipe.PerClass / 10;
            var train = recipe.PerClass - 2 * validation;
            for (var i = 0; i < recipe.PerClass; i++)
                split[i < train ? 0 : i < train + validation ? 1 : 2].Add((items[i].Text, (byte)c));
        }
        // Interleave the classes in a seeded order (the training loop shuffles anyway; evaluation batches stay mixed).
        foreach (var s in split)
            for (var i = s.Count - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (s[i], s[j]) = (s[j], s[i]);
            }

        var vocabulary = Vocabulary(split[0].Select(p => p.Text), recipe.Vocabulary);
        var sets = split.Select(s => Encode(s, vocabulary, recipe.SequenceLength)).ToArray();
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{Kind}|{recipe.SequenceLength}|{recipe.Vocabulary}|{recipe.PerClass}|{recipe.Seed}\n"));
        foreach (var set in sets)
        {
            hash.AppendData(set.Labels);
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(set.Tokens.AsSpan()));
        }
        return new TextCorpus(sets[0], sets[1], sets[2], dir, Convert.ToHexStringLower(hash.GetHashAndReset()), Supersenses.Select(s => s.Name).ToArray(),
            vocabulary.Count + 2, recipe);
    }

    /// <summary>The definition part of a gloss: up to the first quoted usage example.</summary>
    internal static string Definition(string gloss)
    {
        var quote = gloss.IndexOf('"');
        var text = quote < 0 ? gloss : gloss[..quote];
        return text.Trim().TrimEnd(';').Trim();
    }

    /// <summary>Lower-case words (runs of letters).</summary>
    internal static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetter(ch)) word.Append(char.ToLowerInvariant(ch));
            else if (word.Length > 0)
            {
                yield return word.ToString();
                word.Clear();
            }
        }
        if (word.Length > 0) yield return word.ToString();
    }

    /// <summary>Word → id (from 2), the <paramref name="size"/> − 2 most frequent training words, ties broken by the word.</summary>
    internal static Dictionary<string, long> Vocabulary(IEnumerable<string> texts, int size)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in texts)
            foreach (var w in Words(t))
                counts[w] = counts.GetValueOrDefault(w) + 1;
        return counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(size - 2)
            .Select((p, i) => (p.Key, Id: (long)i + 2)).ToDictionary(p => p.Key, p => p.Id, StringComparer.Ordinal);
    }

    internal static TextSet Encode(IReadOnlyList<(string Text, byte Label)> items, IReadOnlyDictionary<string, long> vocabulary, int length)
    {
        var tokens = new long[items.Count * length]; // zeros: padding
        var labels = new byte[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            labels[i] = items[i].Label;
            var k = 0;
            foreach (var w in Words(items[i].Text))
            {
                if (k == length) break;
                tokens[i * length + k++] = vocabulary.GetValueOrDefault(w, Unknown);
            }
        }
        return new TextSet(tokens, labels, items.Count, length);
    }
}

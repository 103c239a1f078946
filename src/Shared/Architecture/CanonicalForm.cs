using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// The canonical text form of a network and its SHA-256 architecture hash. The form ignores layer
/// names and the order in which a builder happened to emit independent layers, so two builders that
/// produce the same computation produce the same hash — the key of the cost cache, of evaluator
/// entities and of trial de-duplication.
/// </summary>
/// <remarks>
/// Each layer gets a structural label: a Merkle hash (XXH128) over its op signature and its producers' labels
/// (inputs of commutative ops — add, weighted add, multiply, concat — are taken as a multiset), refined
/// by a second pass over its consumers and the network outputs, so that two layers computing the same
/// thing for different consumers are told apart. Layers are then listed in the topological order that
/// always takes the smallest label next, with inputs referenced by position. Concat counts as
/// commutative because swapping its inputs only permutes channels, which the consumer's weights absorb.
/// The version line lets the form evolve without silently changing old hashes' meaning.
/// </remarks>
public static class CanonicalForm
{
    public const string Version = "nascluster-canonical-v2";

    public static string Of(Network network)
    {
        var layers = network.Layers;
        var n = layers.Length;
        var signature = new string[n];
        var inputs = new int[n][];
        var commutative = new bool[n];
        var consumers = new List<(int Consumer, int Slot)>[n];
        for (var i = 0; i < n; i++)
        {
            signature[i] = OpNames.Signature(layers[i].Op);
            inputs[i] = layers[i].Inputs.Select(network.IndexOf).ToArray();
            commutative[i] = OpNames.IsCommutative(layers[i].Op);
            consumers[i] = [];
        }
        for (var i = 0; i < n; i++)
            for (var s = 0; s < inputs[i].Length; s++)
                consumers[inputs[i][s]].Add((i, s));

        var up = new UInt128[n];
        for (var i = 0; i < n; i++)
        {
            var parts = inputs[i].Select(j => up[j]);
            if (commutative[i]) parts = parts.Order();
            up[i] = Digest('U', signature[i], parts);
        }

        var outputSlot = network.Outputs.Select((name, k) => (Index: network.IndexOf(name), k))
            .ToLookup(x => x.Index, x => x.k);
        var label = new UInt128[n];
        for (var i = n - 1; i >= 0; i--)
        {
            // A consumer's label mixed with the input slot it reads (or "any slot" for commutative ops);
            // output positions count as consumers with reserved labels.
            var tokens = consumers[i]
                .Select(c => Digest('C', commutative[c.Consumer] ? "*" : c.Slot.ToString(CultureInfo.InvariantCulture), [label[c.Consumer]]))
                .Concat(outputSlot[i].Select(k => Digest('O', k.ToString(CultureInfo.InvariantCulture), [])))
                .Order();
            label[i] = Digest('D', "", tokens.Prepend(up[i]));
        }

        // Kahn's algorithm, always emitting the ready layer with the smallest label.
        var pending = inputs.Select(x => x.Length).ToArray();
        var ready = new PriorityQueue<int, (UInt128, int)>();
        for (var i = 0; i < n; i++)
            if (pending[i] == 0) ready.Enqueue(i, (label[i], i));
        var position = new int[n];
        var order = new List<int>(n);
        while (ready.TryDequeue(out var i, out _))
        {
            position[i] = order.Count;
            order.Add(i);
            foreach (var (c, _) in consumers[i])
                if (--pending[c] == 0) ready.Enqueue(c, (label[c], c));
        }

        var sb = new StringBuilder(64 * n);
        sb.Append(Version).Append('\n');
        foreach (var i in order)
        {
            var refs = inputs[i].Select(j => position[j]);
            if (commutative[i]) refs = refs.Order();
            sb.Append(position[i]).Append(' ').Append(signature[i]);
            if (inputs[i].Length > 0) sb.Append(" <- ").Append(string.Join(",", refs));
            sb.Append('\n');
        }
        sb.Append("outputs ").Append(string.Join(",", network.Outputs.Select(o => position[network.IndexOf(o)]))).Append('\n');
        return sb.ToString();
    }

    public static string HashOf(string canonical) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    /// <summary>
    /// A structural label: XXH128 over a tag, a text and other labels. Labels only order layers (the hash
    /// of the network is SHA-256 over the canonical text), so they need speed, not cryptographic strength;
    /// a collision could at worst change the emission order of two layers, not make two networks equal.
    /// </summary>
    private static UInt128 Digest(char tag, string text, IEnumerable<UInt128> labels)
    {
        var hash = new XxHash128();
        Span<byte> buffer = stackalloc byte[16];
        buffer[0] = (byte)tag;
        hash.Append(buffer[..1]);
        hash.Append(Encoding.UTF8.GetBytes(text));
        buffer[0] = (byte)'|';
        hash.Append(buffer[..1]);
        foreach (var l in labels)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(buffer, l);
            hash.Append(buffer);
        }
        return hash.GetCurrentHashAsUInt128();
    }
}

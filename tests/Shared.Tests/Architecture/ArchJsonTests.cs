using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.Shared.Tests.Architecture;

public class ArchJsonTests
{
    public static TheoryData<string> ZooNames => new(ModelZoo.Names);

    [Theory]
    [MemberData(nameof(ZooNames))]
    public void Every_zoo_model_round_trips_exactly(string name)
    {
        var n = ModelZoo.Build(name);
        var text = ArchJson.Write(n);
        var back = ArchJson.Read(text);
        Assert.Equal(n.Name, back.Name);
        Assert.Equal<Layer>(n.Layers, back.Layers);
        Assert.Equal<string>(n.Outputs, back.Outputs);
        Assert.Equal(n.Hash, back.Hash);
        Assert.Equal(text, ArchJson.Write(back));
    }

    [Fact]
    public void Hand_written_files_may_omit_defaults()
    {
        const string text = """
            {
              "format": "nascluster-arch", "version": 1, "name": "tiny",
              // comments and trailing commas are fine in hand-written files
              "layers": [
                {"name": "x", "op": "input", "shape": [32, 32, 3]},
                {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 8, "kernel": 3, "activation": "relu"},
                {"name": "p", "op": "global_pool", "inputs": ["c"]},
                {"name": "y", "op": "dense", "inputs": ["p"], "units": 10},
              ],
              "outputs": ["y"]
            }
            """;
        var n = ArchJson.Read(text);
        Assert.Equal(new Conv2DOp(8, 3, 3, 1, 1, Padding.Same, 1, false, true, ActivationKind.Relu), n.Layers[1].Op);
        Assert.Equal(9L * 3 * 8 + 8 * 10 + 10, n.Params);
    }

    [Theory]
    [InlineData("{\"format\": \"nascluster-arch\", \"version\": 1,", null, "malformed JSON")]
    [InlineData("""{"format": "other", "version": 1, "layers": [], "outputs": []}""", "$.format", "expected \"nascluster-arch\"")]
    [InlineData("""{"format": "nascluster-arch", "version": 9, "layers": [], "outputs": []}""", "$.version", "unsupported version 9")]
    [InlineData("""{"format": "nascluster-arch", "version": 1, "layers": [{"name": "x", "op": "warp", "inputs": []}], "outputs": ["x"]}""", "$.layers[0].op", "unknown op \"warp\"")]
    [InlineData("""{"format": "nascluster-arch", "version": 1, "layers": [{"name": "x", "op": "input", "shape": [8, 8]}], "outputs": ["x"]}""", "$.layers[0].shape", "expected 3 integers")]
    [InlineData("""{"format": "nascluster-arch", "version": 1, "layers": [{"name": "x", "op": "input", "shape": [8, 8, 3], "colour": 1}], "outputs": ["x"]}""", "$.layers[0].colour", "unknown key \"colour\"")]
    [InlineData("""{"format": "nascluster-arch", "version": 1, "layers": [{"name": "x", "op": "input", "shape": [8, 8, 3]}, {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 6, "kernel": 3, "groups": 4}], "outputs": ["c"]}""", "$.layers[1]", "layer 'c': input channels 3 are not divisible by groups 4")]
    [InlineData("""{"format": "nascluster-arch", "version": 1, "layers": [{"name": "x", "op": "input", "shape": [8, 8, 3]}, {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 6, "kernel": 3, "padding": "full"}], "outputs": ["c"]}""", "$.layers[1].padding", "expected one of same, valid")]
    public void Bad_files_are_reported_with_path_and_reason(string text, string? path, string reason)
    {
        var e = Assert.ThrowsAny<NasInputException>(() => ArchJson.Read(text, "model.arch.json"));
        Assert.Equal("model.arch.json", e.File);
        if (path is not null) Assert.Equal(path, e.JsonPath);
        Assert.Contains(reason, e.Message);
        Assert.StartsWith("model.arch.json: ", e.Message);
    }

    [Fact]
    public void Host_ops_round_trip_broadcast_and_reduce_channels()
    {
        const string text = """
            {"format": "nascluster-arch", "version": 1, "name": "host",
             "layers": [
               {"name": "x", "op": "input", "shape": [16, 16, 8]},
               {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 8, "kernel": 3},
               {"name": "g", "op": "global_pool", "inputs": ["c"]},
               {"name": "d", "op": "host_op", "inputs": ["c", "g"], "type": "Div"},
               {"name": "a", "op": "host_op", "inputs": ["d"], "type": "ArgMax", "channels": 1}],
             "outputs": ["a"]}
            """;
        var n = ArchJson.Read(text);
        Assert.Equal(new HostOp("Div"), n.Layers[3].Op);
        Assert.Equal(new TensorShape(16, 16, 8), n.Infos[3].OutputShape); // the 1x1x8 pool broadcasts over the map
        Assert.Equal(new TensorShape(16, 16, 1), n.Infos[4].OutputShape);
        Assert.Equal(0, n.Infos[4].Params);
        var back = ArchJson.Read(ArchJson.Write(n));
        Assert.Equal(n.Hash, back.Hash);
        Assert.NotEqual(n.Hash, ArchJson.Read(text.Replace("\"Div\"", "\"Sub\"", StringComparison.Ordinal)).Hash); // the type is part of the op

        var bad = Assert.ThrowsAny<NasInputException>(() => ArchJson.Read(text.Replace("\"ArgMax\"", "\"arg max(\"", StringComparison.Ordinal), "h.json"));
        Assert.Equal("$.layers[4].type", bad.JsonPath);
        var shapes = Assert.ThrowsAny<NasInputException>(() => ArchJson.Read(text.Replace("[\"c\", \"g\"]", "[\"c\", \"x\", \"g\"]", StringComparison.Ordinal)
            .Replace("[16, 16, 8]", "[16, 16, 4]", StringComparison.Ordinal), "h.json"));
        Assert.Contains("Div inputs must broadcast", shapes.Message);
    }

    [Fact]
    public void Missing_file_is_a_clear_error()
    {
        var e = Assert.ThrowsAny<NasInputException>(() => ArchJson.ReadFile(Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".json")));
        Assert.Contains("file not found", e.Message);
    }
}

using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Zoo;

namespace NasCluster.Coordinator.Tests.Cli;

/// <summary>
/// The proxy command end to end. Distillation needs the teacher (minutes to train), which the trainer tests
/// cover; here the command trains without it (--no-distillation) so the command path stays fast.
/// </summary>
[Trait("Tier", "slow")]
public class ProxyCliTests
{
    [Fact]
    public void Proxy_json_reports_score_loss_speed_and_wall_time()
    {
        using var dir = new TempDir();
        var weights = dir.File("student.bin");
        var r = CliResult.Run("proxy", "mobilenet-edgetpu-v2-tiny", "--steps", "20", "--seed", "3", "--no-distillation", "--threads", "2",
            "--save-weights", weights, "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("succeeded").GetBoolean());
        Assert.InRange(root.GetProperty("score").GetDouble(), 0.0, 1.0);
        Assert.True(root.GetProperty("loss").GetDouble() > 0);
        Assert.True(root.GetProperty("steps_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("wall_s").GetDouble() > 0);
        Assert.Equal(20, root.GetProperty("steps").GetInt32());
        Assert.Equal(ModelZoo.Build("mobilenet-edgetpu-v2-tiny").Hash, root.GetProperty("hash").GetString());
        Assert.True(File.Exists(weights));
        Assert.Contains("step 20/20", r.Err); // progress goes to stderr
    }

    [Fact]
    public void Proxy_takes_arch_json_and_prints_a_summary()
    {
        using var dir = new TempDir();
        var arch = dir.File("net.arch.json");
        ArchJson.WriteFile(ModelZoo.Build("mobilenet-v1"), arch);
        var r = CliResult.Run("proxy", arch, "--steps", "10", "--no-distillation");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("proxy score", r.Out);
        Assert.Contains("validation accuracy", r.Out);
    }

    [Fact]
    public void Bad_proxy_input_exits_2_with_a_reason()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte.gz"), []); // the IDX layout, three files short
        CliResult.Run("proxy", "mobilenet-v2", "--steps", "5", "--no-distillation", "--data", dir.Path)
            .AssertBadInput("Fashion-MNIST not found", "train-labels-idx1-ubyte.gz", "dataset-fashion-mnist");
        var b = new NetworkBuilder("two-inputs");
        var both = b.Concat("both", b.Input(32, 32, 1, "left"), b.Input(32, 32, 1, "right"));
        var twoInputs = dir.File("two-inputs.arch.json");
        ArchJson.WriteFile(b.Build(b.Dense(b.GlobalPool(both), 10, name: "logits")), twoInputs);
        CliResult.Run("proxy", twoInputs, "--steps", "5", "--no-distillation")
            .AssertBadInput("cannot build the proxy", "'two-inputs' is neither an image network nor a text encoder");
        CliResult.Run("proxy", "mobilebert", "--steps", "5", "--no-distillation", "--data", dir.Path)
            .AssertBadInput("no WordNet noun data here", "apt install wordnet-base", Path.Combine(dir.Path, "data.noun"));
        CliResult.Run("proxy", "mobilenet-v2", "--steps", "0").AssertBadInput("--steps must be at least 1");
        CliResult.Run("proxy", "mobilenet-v2", "--width", "-1").AssertBadInput("--width");
    }
}

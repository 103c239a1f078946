using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;

namespace NasCluster.TrainerNode.Tests;

public class FashionMnistTests
{
    [Fact]
    public void Reads_the_debian_package_and_splits_it_the_same_way_every_time()
    {
        var d = FashionMnist.Load();
        Assert.Equal((55000, 5000, 10000), (d.Train.Count, d.Validation.Count, d.Test.Count));
        Assert.Equal((28, 28), (d.Train.Height, d.Train.Width));
        Assert.All(Enumerable.Range(0, 10), c => Assert.InRange(d.Validation.Labels.Count(l => l == c), 400, 600)); // a random split is near balanced
        // The split is fixed: reading the files again (another process) gives the same validation images.
        var again = FashionMnist.Load(FashionMnist.DefaultDirectory + "/");
        Assert.Equal(d.Fingerprint, again.Fingerprint);
        Assert.Equal(d.Validation.Pixels, again.Validation.Pixels);
        Assert.NotEqual(d.Validation.Pixels.Take(784), d.Train.Pixels.Take(784));
    }

    [Fact]
    public void Missing_files_name_the_package_to_install()
    {
        var dir = Directory.CreateTempSubdirectory("nascluster-empty-");
        try
        {
            var e = Assert.Throws<NasInputException>(() => FashionMnist.Load(dir.FullName));
            Assert.Contains("dataset-fashion-mnist", e.Message);
            Assert.Contains("apt-get install", e.Message);
            Assert.Equal(dir.FullName, e.File);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Corrupt_files_are_clear_errors()
    {
        var dir = Directory.CreateTempSubdirectory("nascluster-bad-");
        try
        {
            foreach (var f in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
                File.WriteAllText(Path.Combine(dir.FullName, f), "not gzip");
            Assert.Contains("not a gzip file", Assert.Throws<NasInputException>(() => FashionMnist.Load(dir.FullName)).Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}

public class ProxyScalingTests
{
    public static TheoryData<string> Classifiers => new(ModelZoo.All.Where(e => e.Task == "classification").Select(e => e.Name));

    [Theory]
    [MemberData(nameof(Classifiers))]
    public void Zoo_classifiers_scale_to_a_32x32_proxy_whose_module_has_the_irs_parameter_count(string name)
    {
        var proxy = ProxyScaling.Scale(ModelZoo.Build(name));
        AssertProxyShape(proxy);
        using var module = new IrModule(proxy);
        Assert.Equal(proxy.Params, module.IrParameterCount);
        var bnChannels = proxy.Layers.Select(l => l.Op).OfType<Conv2DOp>().Where(c => c.BatchNorm).Sum(c => (long)c.Filters);
        Assert.Equal(2 * bnChannels, module.BatchNormParameterCount);
        using var y = module.forward(TorchSharp.torch.zeros(2, 1, 32, 32));
        Assert.Equal([2L, 10, 1, 1], y.shape);
    }

    [Fact]
    public void Sampled_candidates_keep_their_structure_at_proxy_scale()
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng(4);
        for (var i = 0; i < 30; i++)
        {
            var candidate = space.Build(space.Sample(rng));
            var proxy = ProxyScaling.Scale(candidate);
            AssertProxyShape(proxy);
            Assert.Equal(candidate.Layers.Length, proxy.Layers.Length);
            Assert.Equal(candidate.Layers.Select(l => OpNames.Of(l.Op)), proxy.Layers.Select(l => OpNames.Of(l.Op)));
            for (var k = 0; k < candidate.Layers.Length; k++)
            {
                if (candidate.Infos[k].Layer.Op is not Conv2DOp original || proxy.Layers[k].Op is not Conv2DOp scaled) continue;
                Assert.Equal((original.KernelH, original.KernelW), (scaled.KernelH, scaled.KernelW));
                var wasDepthwise = OpNames.Describe(original, candidate.Infos[k].InputShapes[0]) == "depthwise";
                var isDepthwise = OpNames.Describe(scaled, proxy.Infos[k].InputShapes[0]) == "depthwise";
                Assert.Equal(wasDepthwise, isDepthwise);
                if (!wasDepthwise) Assert.Equal(original.Groups, scaled.Groups); // w = 1/4 keeps every group count in this space
            }
            using var module = new IrModule(proxy);
            Assert.Equal(proxy.Params, module.IrParameterCount);
        }
    }

    [Fact]
    public void Widths_scale_by_the_multiplier()
    {
        var original = ModelZoo.Build("mobilenet-v2");
        var proxy = ProxyScaling.Scale(original, ProxySpec.Default with { WidthMultiplier = 0.5 });
        var stem = (Conv2DOp)proxy.Layers.First(l => l.Name == "stem").Op;
        Assert.Equal(16, stem.Filters);
        Assert.Equal(new TensorShape(32, 32, 1), ((InputOp)proxy.Layers[0].Op).Shape);
    }

    [Fact]
    public void An_image_spec_prints_as_before_the_text_fields_so_benchmark_runs_files_still_match()
    {
        Assert.Equal("ProxySpec { WidthMultiplier = 0.25, Resolution = 32, MinFeatureMap = 2, Classes = 10, MinChannels = 2, InputChannels = 1, Task = Classification }",
            ProxySpec.Default.ToString());
        Assert.EndsWith("Task = Text, Vocabulary = 4096, KeepEveryLayer = 6 }", (ProxySpec.Default with { Task = ProxyTask.Text }).ToString());
    }

    [Theory]
    [InlineData("ssdlite-mobilenet-v2", "is a detection network; this proxy trains classification")]
    [InlineData("deeplabv3plus-mobilenet-v2", "is a segmentation network; this proxy trains classification")]
    [InlineData("mobilebert", "is an nlp network; this proxy trains classification")]
    public void Other_tasks_have_no_classification_proxy(string name, string reason)
    {
        Assert.Contains(reason, Assert.Throws<NasInputException>(() => ProxyScaling.Scale(ModelZoo.Build(name))).Message);
    }

    [Fact]
    public void Tensorflow_same_padding_puts_the_extra_pixel_after()
    {
        Assert.Null(IrModule.SamePadding(32, 32, 1, 1, 1, 1));
        Assert.Equal([1L, 1, 1, 1], IrModule.SamePadding(32, 32, 3, 3, 1, 1)!);
        Assert.Equal([0L, 1, 0, 1], IrModule.SamePadding(32, 32, 3, 3, 2, 1)!); // 32 -> 16: total pad 1, after
        Assert.Equal([1L, 2, 1, 2], IrModule.SamePadding(32, 32, 5, 5, 2, 1)!);
    }

    private static void AssertProxyShape(Network proxy)
    {
        Assert.Equal(new TensorShape(32, 32, 1), ((InputOp)proxy.Layers[0].Op).Shape);
        Assert.Equal(new TensorShape(1, 1, 10), proxy.ShapeOf(proxy.Outputs[0]));
        // The last feature map (the input of the global pool / flatten) stays at least 2x2.
        var last = proxy.Infos.Last(i => i.Layer.Op is GlobalPoolOp or FlattenOp).InputShapes[0];
        Assert.True(last.Height >= 2 && last.Width >= 2, $"last feature map {last}");
        Assert.All(proxy.Infos.Where(i => i.Layer.Op is Conv2DOp or PoolOp), i => Assert.True(i.OutputShape.Height >= 1));
    }
}

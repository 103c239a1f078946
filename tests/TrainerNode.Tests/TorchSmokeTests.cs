using TorchSharp;
using static TorchSharp.torch;

namespace NasCluster.TrainerNode.Tests;

/// <summary>The project's build patches libLibTorchSharp.so (tools/weaken_glibcxx.py); here libtorch must load and train.</summary>
public class TorchSmokeTests
{
    [Fact]
    public void Libtorch_loads_and_a_model_trains()
    {
        torch.random.manual_seed(1);
        var model = nn.Sequential(
            ("conv", nn.Conv2d(1, 8, 3, padding: 1)),
            ("relu", nn.ReLU()),
            ("dw", nn.Conv2d(8, 8, 3, padding: 1, groups: 8)),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flat", nn.Flatten()),
            ("fc", nn.Linear(8, 2)));
        var x = torch.randn(64, 1, 8, 8);
        var y = (x.mean([1, 2, 3]) > 0).to(ScalarType.Int64);
        var optimizer = optim.Adam(model.parameters(), 0.02);
        float first = 0, last = 0;
        for (var step = 0; step < 60; step++)
        {
            optimizer.zero_grad();
            using var loss = nn.functional.cross_entropy(model.forward(x), y);
            loss.backward();
            optimizer.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.False(torch.cuda.is_available());
        Assert.True(last < 0.7f * first, $"loss {first} -> {last}");
    }
}

using System.Diagnostics;
using System.Text.Json;
using NasCluster.Coordinator.Cli;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Zoo;

namespace NasCluster.Coordinator.Tests.Cli;

public class ArchAndDemoCliTests
{
    [Fact]
    public void Arch_show_reads_an_exported_file()
    {
        using var dir = new TempDir();
        var path = dir.File("resnet.arch.json");
        ArchJson.WriteFile(ModelZoo.Build("resnet-50"), path);
        var r = CliResult.Run("arch", "show", path, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(ModelZoo.Build("resnet-50").Hash, doc.RootElement.GetProperty("hash").GetString());
    }

    [Fact]
    public void Arch_show_rejects_invalid_files_with_path_and_layer()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.arch.json");
        var text = ArchJson.Write(ModelZoo.Build("mobilenet-v1")).Replace("\"groups\": 64,", "\"groups\": 7,");
        File.WriteAllText(path, text);
        CliResult.Run("arch", "show", path).AssertBadInput(path, "$.layers[", "not divisible by groups 7");
        CliResult.Run("arch", "show", dir.File("none.json")).AssertBadInput("file not found");
    }

    /// <summary>The main job's machinery end to end (without training, which the cluster and proxy tests cover).</summary>
    [Fact]
    public void Demo_runs_a_real_standalone_search_into_a_sqlite_journal()
    {
        using var dir = new TempDir();
        var db = dir.File("demo.db");
        var r = CliResult.Run("demo", "--quality", "synthetic", "--trials", "8", "--name", "demo-test", "--db", db);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("running: nascluster search --space mnv2-edgetpu-classification --name demo-test", r.Err);
        Assert.Contains("8 completed, 0 failed, 0 in flight of 8", r.Out);
        Assert.Contains("Pareto front", r.Out);
        Assert.True(File.Exists(db));
        var again = CliResult.Run("demo", "--quality", "synthetic", "--trials", "8", "--name", "demo-test", "--db", db);
        Assert.Equal(ExitCodes.BadInput, again.ExitCode);
        Assert.Contains("error: experiment 'demo-test' already exists; continue it with `nascluster resume demo-test", again.Err);
    }

    [Fact]
    public void No_arguments_prints_help_and_exits_2()
    {
        var r = CliResult.Run();
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("zoo", r.Out);
        Assert.Contains("spaces", r.Out);
    }

    /// <summary>The real executable, as users run it: exit code 2 and one line on stderr for bad input.</summary>
    [Fact]
    public void The_executable_exits_2_on_bad_input()
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "nascluster.dll");
        Assert.True(File.Exists(exe), exe);
        var psi = new ProcessStartInfo("dotnet", [exe, "zoo", "show", "no-such-model"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Equal("", stdout);
        Assert.Equal(["error: unknown zoo model 'no-such-model' (see `nascluster zoo list`)"], stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}

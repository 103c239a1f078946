using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Faults;

/// <summary>
/// A standalone search whose SQLite database is on a disk that fills up, or is read-only: one clear error
/// and exit 2, the journal intact (nothing counted twice), and once the disk is fixed `resume` finishes the
/// search on the trajectory of an uninterrupted run.
/// </summary>
[Trait("Tier", "slow")]
public sealed class SqliteDiskFaultTests : IDisposable
{
    private const int Trials = 3000;
    private readonly string _dir = Directory.CreateTempSubdirectory("nas-disk-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string[] Search(string name, string db) =>
        ["search", "--space", "mnv2-edgetpu-classification", "--name", name, "--trials", Trials.ToString(), "--batch", "10", "--seed", "11",
         "--quality", "synthetic", "--db", db];

    private static string[] ErrorLines(string output) => output.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();

    /// <summary>The uninterrupted run's final controller state (a database of its own, outside the small disk).</summary>
    private async Task<string> CleanRun()
    {
        var db = Path.Combine(_dir, "clean.db");
        using (var clean = NodeProcess.Start("nascluster.dll", _dir, Search("x", db)))
            Assert.Equal(0, await clean.WaitForExit(TimeSpan.FromMinutes(5)));
        return ExperimentStore.Load(NodeConfig.ParseDb(db), "x").State.ControllerState;
    }

    private static void AssertNothingTwice(IReadOnlyList<Shared.Protocol.IExperimentEvent> events)
    {
        Assert.All(events.OfType<CostRecorded>().GroupBy(c => c.TrialId), g => Assert.Single(g));
        Assert.All(events.OfType<QualityRecorded>().GroupBy(q => q.TrialId), g => Assert.Single(g));
    }

    private async Task ResumeAndCompare(DatabaseTarget target, string expectedController)
    {
        using (var resume = NodeProcess.Start("nascluster.dll", _dir, "resume", "x", "--db", target.Display))
            Assert.Equal(0, await resume.WaitForExit(TimeSpan.FromMinutes(5)));
        Journal.AssertEveryTrialAccountedOnce(Journal.Events(target, "x"), Trials);
        var state = ExperimentStore.Load(target, "x").State;
        Assert.True(state.Finished);
        Assert.Equal(expectedController, state.ControllerState);
    }

    [SmallDiskFact]
    public async Task A_disk_that_fills_up_mid_search_ends_it_with_one_clear_error_and_resume_finishes_it_once_there_is_room()
    {
        using var disk = new SmallDisk(Path.Combine(_dir, "disk"), 1536);
        var db = Path.Combine(disk.Path, "nascluster.db");
        var target = NodeConfig.ParseDb(db);
        using (var search = NodeProcess.Start("nascluster.dll", _dir, Search("x", db)))
        {
            Assert.Equal(2, await search.WaitForExit(TimeSpan.FromMinutes(5)));
            var error = Assert.Single(ErrorLines(search.Output));
            Assert.Matches("halted: the (disk holding the experiment database is full|experiment database cannot be written)", error);
            Assert.Contains($"nascluster resume x", error);
        }
        var halted = ExperimentStore.Load(target, "x");
        Assert.Equal(ExperimentCondition.Interrupted, halted.Condition);
        Assert.InRange(halted.State.Completed, 1, Trials - 1);
        AssertNothingTwice(Journal.Events(target, "x"));

        var expected = await CleanRun();
        disk.Resize(256 * 1024);
        await ResumeAndCompare(target, expected);
    }

    [SmallDiskFact]
    public async Task A_read_only_disk_refuses_the_resume_with_one_clear_error_changes_nothing_and_the_resume_works_once_writable()
    {
        using var disk = new SmallDisk(Path.Combine(_dir, "disk"), 256 * 1024);
        var db = Path.Combine(disk.Path, "nascluster.db");
        var target = NodeConfig.ParseDb(db);
        using (var search = NodeProcess.Start("nascluster.dll", _dir, Search("x", db)))
        {
            await Nodes.Until(() => Journal.Count(target, "x", "exp-quality-v1") >= 300 || search.HasExited, TimeSpan.FromMinutes(3), "300 trials in the journal");
            Assert.False(search.HasExited, search.Output);
            search.Kill();
        }
        var before = File.ReadAllBytes(db);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // this process's pooled connections keep the file open for writing
        disk.ReadOnly(true);
        using (var refused = NodeProcess.Start("nascluster.dll", _dir, "resume", "x", "--db", db))
        {
            Assert.Equal(2, await refused.WaitForExit(TimeSpan.FromMinutes(2)));
            var error = Assert.Single(ErrorLines(refused.Output));
            Assert.True(error.Contains("read-only", StringComparison.Ordinal), error);
        }
        using (var status = NodeProcess.Start("nascluster.dll", _dir, "status", "x", "--db", db))
        {
            // SQLite reads a WAL database on a read-only disk when its -shm file was left behind (as by the kill
            // here); without one it cannot, and `status` says why.
            var code = await status.WaitForExit(TimeSpan.FromMinutes(1));
            if (code != 0)
            {
                Assert.Equal(2, code);
                Assert.Contains("read-only disk", Assert.Single(ErrorLines(status.Output)));
            }
            else Assert.Contains("interrupted", status.Output);
        }
        disk.ReadOnly(false);
        Assert.Equal(before, File.ReadAllBytes(db));
        await ResumeAndCompare(target, await CleanRun());
    }
}

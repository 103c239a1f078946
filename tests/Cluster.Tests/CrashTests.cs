using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// Node processes killed for real (SIGKILL: no shutdown hooks, nothing flushed): the coordinator of a
/// standalone search, and evaluator and trainer nodes of a multi-process cluster.
/// </summary>
[Trait("Tier", "slow")]
public sealed class CrashTests
{
    private static string[] SearchArgs(string name, string db, int trials) =>
        ["--space", "mnv2-edgetpu-classification", "--name", name, "--trials", trials.ToString(), "--batch", "10", "--seed", "11",
         "--quality", "synthetic", "--db", db];

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task A_coordinator_killed_mid_search_resumes_accounts_every_trial_once_and_matches_an_uninterrupted_run(string backend)
    {
        using var db = new TestDatabase(backend);
        const int trials = 2000;

        // The interrupted run: a standalone search process, killed once a good part of it is in the journal.
        using (var search = NodeProcess.Start("nascluster.dll", db.Directory, ["search", .. SearchArgs("crashed", db.Url, trials)]))
        {
            await Nodes.Until(() => Journal.Count(db.Target, "crashed", "exp-quality-v1") >= 300 || search.HasExited, TimeSpan.FromMinutes(3),
                "300 trials in the journal");
            Assert.False(search.HasExited, $"the search ended before it could be killed:\n{search.Output}");
            search.Kill();
        }
        var interrupted = ExperimentStore.Load(db.Target, "crashed");
        Assert.Equal(ExperimentCondition.Interrupted, interrupted.Condition); // the lock died with the process
        Assert.InRange(interrupted.State.Completed, 300, trials - 1);

        using (var resume = NodeProcess.Start("nascluster.dll", db.Directory, "resume", "crashed", "--db", db.Url))
            Assert.Equal(0, await resume.WaitForExit(TimeSpan.FromMinutes(5)));

        // The same search, never interrupted (another experiment in the same database).
        using (var clean = NodeProcess.Start("nascluster.dll", db.Directory, ["search", .. SearchArgs("clean", db.Url, trials)]))
            Assert.Equal(0, await clean.WaitForExit(TimeSpan.FromMinutes(5)));

        var crashedEvents = Journal.Events(db.Target, "crashed");
        Journal.AssertEveryTrialAccountedOnce(crashedEvents, trials);
        var crashed = ExperimentStore.Load(db.Target, "crashed").State;
        var clean2 = ExperimentStore.Load(db.Target, "clean").State;
        Assert.True(crashed.Finished);
        Assert.Equal(trials, crashed.Completed + crashed.Failed);
        Assert.Equal(clean2.Trials.Select(t => t.Hash), crashed.Trials.Select(t => t.Hash));
        Assert.Equal(clean2.Trials.Select(t => string.Join(',', t.Vector)), crashed.Trials.Select(t => string.Join(',', t.Vector)));
        Assert.Equal(clean2.Trials.Select(t => clean2.Reward(t)), crashed.Trials.Select(t => crashed.Reward(t)));
        Assert.Equal(clean2.ControllerState, crashed.ControllerState);
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Evaluator_and_trainer_processes_killed_mid_search_have_their_work_reissued_nothing_lost_nothing_twice(string backend)
    {
        using var db = new TestDatabase(backend);
        var config = Nodes.WriteFastFailoverConfig(db.Directory);
        await using var coordinator = await Nodes.Start(db.Url, ["coordinator"]);
        var seed = Nodes.Seed(coordinator);
        string[] evaluatorArgs = ["--seed", seed, "--config", config, "--threads", "1", "--work-delay-ms", "20"];
        string[] trainerArgs = ["--seed", seed, "--config", config, "--skip-teacher", "--slots", "2"];
        using var evaluator1 = await NodeProcess.StartNode("nascluster-evaluator.dll", db.Directory, evaluatorArgs);
        using var evaluator2 = await NodeProcess.StartNode("nascluster-evaluator.dll", db.Directory, evaluatorArgs);
        // trainer-1 holds each training for 3 s, so work seen out on it in the journal is still out when the kill
        // lands (with 150 ms, as trainer-2, it could finish between the journal read and the kill on a loaded machine).
        using var trainer1 = await NodeProcess.StartNode("nascluster-trainer.dll", db.Directory, [.. trainerArgs, "--id", "trainer-1", "--work-delay-ms", "3000"]);
        using var trainer2 = await NodeProcess.StartNode("nascluster-trainer.dll", db.Directory, [.. trainerArgs, "--id", "trainer-2", "--work-delay-ms", "150"]);

        const int trials = 200;
        // The training deadline is far beyond the time to down and remove a killed node even on a loaded machine:
        // only the trainer's departure may re-issue its work here (a deadline would make it a failed attempt).
        var spec = Specs.Spec("crash-workers", trials: trials, batch: 10) with { EvaluationTimeoutMs = 10_000, TrainingTimeoutMs = 120_000 };
        var done = await Nodes.StartSearch(coordinator, spec);

        // Kill while trainer-1 holds work: a quality dispatch to it without a result yet.
        await Nodes.Until(() =>
        {
            var events = Journal.Events(db.Target, "crash-workers");
            var recorded = events.OfType<QualityRecorded>().Select(q => q.TrialId).ToHashSet();
            return events.OfType<QualityRecorded>().Count() >= 40
                   && events.OfType<DispatchAttempted>().Any(d => d.Worker == "trainer-1" && !recorded.Contains(d.TrialId));
        }, TimeSpan.FromMinutes(2), "40 trials done and work out on trainer-1");
        evaluator1.Kill();
        trainer1.Kill();

        var finished = await done.WaitAsync(TimeSpan.FromMinutes(4));
        var all = Journal.Events(db.Target, "crash-workers");
        Assert.True(finished.Failed == 0, string.Join("\n", all.OfType<TrialFailed>().Select(f => $"trial {f.TrialId}: {f.Reason}"))
                                          + "\n" + string.Join("\n", all.OfType<DispatchAttempted>().Where(d => all.OfType<TrialFailed>().Any(f => f.TrialId == d.TrialId))));
        Assert.Equal((trials, 0), (finished.Completed, finished.Failed));
        Journal.AssertEveryTrialAccountedOnce(all, trials);
        // Work that was on trainer-1 was preempted (not a failure: its attempt number went out again) and done by trainer-2.
        var preempted = all.OfType<AttemptPreempted>().ToList();
        Assert.NotEmpty(preempted);
        Assert.All(preempted, p => Assert.Equal((WorkKind.Quality, "trainer-1"), (p.Work, p.Worker)));
        var retried = preempted.Select(p => p.TrialId).ToHashSet();
        Assert.All(all.OfType<QualityRecorded>().Where(q => retried.Contains(q.TrialId)), q => Assert.Equal("trainer-2", q.Worker));
        Assert.All(retried, t => Assert.Equal(1, ExperimentStore.Load(db.Target, "crash-workers").State.Trials[t].QualityAttempts));
        Assert.Equal(preempted.Count, ExperimentStore.Load(db.Target, "crash-workers").Preempted.Count);
        var (code, json, _) = InProcessCli.Run("status", "crash-workers", "--json", "--db", db.Url);
        Assert.Equal(0, code);
        using var status = System.Text.Json.JsonDocument.Parse(json);
        Assert.Equal(preempted.Count, status.RootElement.GetProperty("attempts_preempted").GetInt32());
        Assert.Equal(0, status.RootElement.GetProperty("trials_failed").GetInt32());
        Assert.Contains("not failures", InProcessCli.Run("status", "crash-workers", "--db", db.Url).Out);
        // After the kill, evaluations are answered by the surviving evaluator only.
        var survivor = all.OfType<CostRecorded>().Last().Node;
        Assert.Equal(survivor, all.OfType<CostRecorded>().TakeLast(20).Select(c => c.Node).Distinct().Single());
    }
}

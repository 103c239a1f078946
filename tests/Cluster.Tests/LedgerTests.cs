using System.Threading.Channels;
using Akka.Actor;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.EvaluatorNode.Cost;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// The experiment actor on a real journal (SQLite and PostgreSQL): results accepted once and persisted
/// before they are acknowledged, duplicates and late results acknowledged and dropped, a failing journal
/// write survived by a new incarnation.
/// </summary>
public sealed class LedgerTests
{
    /// <summary>A trainer agent the test drives by hand: assignments and acknowledgements come out of channels.</summary>
    private sealed class ManualTrainer : ReceiveActor
    {
        public ManualTrainer(ChannelWriter<(WorkAssignment, IActorRef)> assignments, ChannelWriter<WorkAck> acks)
        {
            Receive<WorkAssignment>(w => assignments.TryWrite((w, Sender)));
            Receive<WorkAck>(a => acks.TryWrite(a));
        }
    }

    private static ProxyOutcome Outcome(double score) => new(true, null, score, 0.5, 0.5, 10, 1, 10, 1000, "", null, null);

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Duplicate_and_late_results_are_acknowledged_and_dropped(string backend)
    {
        using var db = new TestDatabase(backend);
        await using var node = await Nodes.Start(db.Url, ["coordinator", "evaluator"]);
        var assignments = Channel.CreateUnbounded<(WorkAssignment, IActorRef)>();
        var acks = Channel.CreateUnbounded<WorkAck>();
        var trainer = node.System.ActorOf(Props.Create(() => new ManualTrainer(assignments.Writer, acks.Writer)), "manual-trainer");
        node.Registry.Tell(new RegisterTrainer("manual", 4), trainer);
        var spec = Specs.Spec("ledger", trials: 4, batch: 4) with { TrainingTimeoutMs = 3000 };
        var done = await Nodes.StartSearch(node, spec);

        var first = new Dictionary<int, (WorkAssignment W, IActorRef Experiment)>();
        while (first.Count < 4)
        {
            var (w, from) = await assignments.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            first[w.TrialId] = (w, from);
        }
        Assert.All(first.Values, a => Assert.Equal(1, a.W.Attempt));

        // Trial 0 answered twice (a retransmission): both acknowledged, recorded once.
        var experiment = first[0].Experiment;
        experiment.Tell(new WorkResult("ledger", 0, 1, "manual", Outcome(0.80)), trainer);
        experiment.Tell(new WorkResult("ledger", 0, 1, "manual", Outcome(0.11)), trainer);
        for (var i = 0; i < 2; i++) Assert.Equal(0, (await acks.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).TrialId);

        experiment.Tell(new WorkResult("ledger", 2, 1, "manual", Outcome(0.60)), trainer);
        experiment.Tell(new WorkResult("ledger", 3, 1, "manual", Outcome(0.50)), trainer);

        // A second answer to trial 0's evaluation, as a second evaluator might send once its cost is recorded: dropped.
        await Nodes.Until(() => Journal.Events(db.Target, "ledger").OfType<CostRecorded>().Any(c => c.TrialId == 0), TimeSpan.FromSeconds(30), "trial 0's cost");
        experiment.Tell(new EvaluationResult("x", new AttemptId("ledger", 0, 1), new CostSummary(99, 99, 99, 9, 0.1, 1, 1, 0, 0), "impostor", CostModel.Version));

        // Trial 1 not answered: its deadline passes and it is assigned again (attempt 2); the answer to
        // attempt 2 counts, the late answer to attempt 1 is acknowledged and dropped. (On a loaded machine
        // other trials may be re-assigned too before their answers land; those are skipped here.)
        WorkAssignment again;
        do (again, _) = await assignments.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        while (again.TrialId != 1);
        Assert.Equal(2, again.Attempt);
        experiment.Tell(new WorkResult("ledger", 1, 2, "manual", Outcome(0.70)), trainer);
        experiment.Tell(new WorkResult("ledger", 1, 1, "manual", Outcome(0.12)), trainer);

        var finished = await done.WaitAsync(TimeSpan.FromSeconds(60));
        // Every answer is acknowledged, the dropped ones too: attempt 2 and the late attempt 1 of trial 1.
        var acked = new List<WorkAck>();
        await Nodes.Until(() =>
        {
            while (acks.Reader.TryRead(out var a)) acked.Add(a);
            return acked.Count(a => a.TrialId == 1) >= 2 && acked.Any(a => a.TrialId == 2) && acked.Any(a => a.TrialId == 3);
        }, TimeSpan.FromSeconds(30), "acknowledgements of every answer");
        Assert.Equal((4, 0), (finished.Completed, finished.Failed));

        var events = Journal.Events(db.Target, "ledger");
        Journal.AssertEveryTrialAccountedOnce(events, 4);
        var qualities = events.OfType<QualityRecorded>().ToDictionary(q => q.TrialId, q => q.Score);
        Assert.Equal(0.80, qualities[0]);
        Assert.Equal(0.70, qualities[1]);
        Assert.DoesNotContain(events.OfType<CostRecorded>(), c => c.Node == "impostor");
        Assert.Contains(events.OfType<DispatchAttempted>(), d => d is { TrialId: 1, Work: WorkKind.Quality, Attempt: 2 });
        var stored = ExperimentStore.Load(db.Target, "ledger");
        Assert.Equal(ExperimentCondition.Finished, stored.Condition);
        Assert.Equal(0.80, stored.State.Trials[0].Quality!.Score);
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task A_failing_journal_write_stops_the_experiment_and_a_new_incarnation_recovers_and_finishes(string backend)
    {
        using var db = new TestDatabase(backend);
        var failuresBefore = FailingSqlJournal.Failures;
        FailingSqlJournal.FailWhen = e => e is QualityRecorded { TrialId: 7 };
        try
        {
            await using var node = await ClusterNode.StartAsync(new NasCluster.NodeHosting.NodeOptions { Db = db.Url }, Nodes.SyntheticTrainer("agent", 2),
                FailingSqlJournal.Hocon + "\n" + Nodes.FastFailover, TimeSpan.FromSeconds(60));
            var done = await Nodes.StartSearch(node, Specs.Spec("journal-failure", trials: 30, batch: 10));
            var finished = await done.WaitAsync(TimeSpan.FromSeconds(90));
            Assert.Equal((30, 0), (finished.Completed, finished.Failed));
        }
        finally
        {
            FailingSqlJournal.FailWhen = null;
        }
        Assert.Equal(failuresBefore + 1, FailingSqlJournal.Failures);
        var events = Journal.Events(db.Target, "journal-failure");
        Journal.AssertEveryTrialAccountedOnce(events, 30);
        Assert.Single(events.OfType<QualityRecorded>(), q => q.TrialId == 7); // re-issued after recovery, recorded once
        // The new incarnation recovered and sent out again what the lost write had left outstanding.
        Assert.Contains(events.OfType<DispatchAttempted>(), d => d is { TrialId: 7, Work: WorkKind.Quality, Attempt: 2 });
    }
}

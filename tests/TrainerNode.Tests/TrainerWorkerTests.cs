using Akka.Actor;
using Akka.TestKit.Xunit2;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.TrainerNode.Tests;

[Collection("torch")]
public sealed class TrainerWorkerTests(TorchFixture fixture) : TestKit
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(2);

    private IActorRef Worker(int slots, string? weights = null) => Sys.ActorOf(TrainerWorker.Props(new TrainerWorkerSettings(slots, fixture.Environment,
        weights ?? Path.GetTempPath(), new TrainingConfig { ProgressEvery = 5 })));

    private static string Arch(ulong seed)
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        return ArchJson.Write(space.Build(space.Sample(new DeterministicRng(seed))));
    }

    [Fact]
    public void Trains_reports_progress_and_completes_exactly_once()
    {
        var worker = Worker(1);
        worker.Tell(new TrainCandidate("t1", Arch(1), Steps: 20, Seed: 1));
        ExpectMsg<TrainingAccepted>(a => a.TrialId == "t1");
        var progress = new List<TrainingProgressed>();
        TrainingCompleted? done = null;
        while (done is null)
        {
            var m = ExpectMsg<object>(Long);
            if (m is TrainingProgressed p) progress.Add(p);
            else done = Assert.IsType<TrainingCompleted>(m);
        }
        Assert.True(done.Outcome.Succeeded, done.Outcome.FailureReason);
        Assert.Equal([5, 10, 15, 20], progress.Select(p => p.Step));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Extra_requests_beyond_the_slots_are_refused_and_the_mailbox_stays_responsive()
    {
        var worker = Worker(1);
        worker.Tell(new TrainCandidate("long", Arch(2), Steps: 100000, Seed: 1));
        ExpectMsg<TrainingAccepted>();
        worker.Tell(new TrainCandidate("second", Arch(3), Steps: 10, Seed: 1));
        FishForMessage(m => m is TrainerBusy { TrialId: "second", Slots: 1 }, Long);
        // While it trains, status is answered at once.
        worker.Tell(GetTrainerStatus.Instance);
        var status = FishForMessage<TrainerStatus>(_ => true, TimeSpan.FromSeconds(10));
        Assert.Equal(["long"], status.Running);
        worker.Tell(new CancelTraining("long"));
        FishForMessage(m => m is TrainingCancelled { TrialId: "long" }, Long);
        // The slot is free again.
        worker.Tell(new TrainCandidate("third", Arch(4), Steps: 5, Seed: 1));
        FishForMessage(m => m is TrainingCompleted { TrialId: "third", Outcome.Succeeded: true }, Long);
    }

    [Fact]
    public void Bad_candidates_fail_with_a_reason_and_the_worker_keeps_serving()
    {
        var worker = Worker(2);
        worker.Tell(new TrainCandidate("broken", "{ not json", Steps: 5, Seed: 1));
        ExpectMsg<TrainingAccepted>();
        var broken = ExpectMsg<TrainingCompleted>(Long);
        Assert.False(broken.Outcome.Succeeded);
        Assert.Contains("invalid architecture", broken.Outcome.FailureReason);

        worker.Tell(new TrainCandidate("detector", ArchJson.Write(ModelZoo.Build("ssdlite-mobilenet-v2")), Steps: 5, Seed: 1));
        ExpectMsg<TrainingAccepted>();
        var detector = FishForMessage<TrainingCompleted>(_ => true, Long);
        Assert.Contains("cannot build the proxy", detector.Outcome.FailureReason);

        worker.Tell(new TrainCandidate("good", Arch(5), Steps: 5, Seed: 1, SaveWeights: true));
        ExpectMsg<TrainingAccepted>();
        var good = FishForMessage<TrainingCompleted>(_ => true, Long);
        Assert.True(good.Outcome.Succeeded, good.Outcome.FailureReason);
        Assert.True(File.Exists(good.Outcome.WeightsPath));
        Assert.NotNull(good.Outcome.WeightsSha256);
        File.Delete(good.Outcome.WeightsPath!);

        worker.Tell(GetTrainerStatus.Instance);
        var status = FishForMessage<TrainerStatus>(_ => true, TimeSpan.FromSeconds(10));
        Assert.Equal((1, 2), (status.Completed, status.Failed));
    }

    [Fact]
    public void Several_slots_train_at_once()
    {
        var worker = Worker(2);
        worker.Tell(new TrainCandidate("a", Arch(6), Steps: 10, Seed: 1));
        worker.Tell(new TrainCandidate("b", Arch(7), Steps: 10, Seed: 1));
        var accepted = new HashSet<string>();
        var completed = new HashSet<string>();
        while (completed.Count < 2)
        {
            var m = ExpectMsg<object>(Long);
            if (m is TrainingAccepted a) accepted.Add(a.TrialId);
            if (m is TrainerBusy) Assert.Fail("two slots must take two requests");
            if (m is TrainingCompleted c)
            {
                Assert.True(c.Outcome.Succeeded, c.Outcome.FailureReason);
                completed.Add(c.TrialId);
            }
        }
        Assert.Equal(["a", "b"], accepted.Order());
    }
}

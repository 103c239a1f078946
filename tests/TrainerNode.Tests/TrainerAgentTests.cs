using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.TrainerNode.Tests;

/// <summary>Starting an agent under test and the messages the tests send it.</summary>
public abstract class TrainerAgentTestKit(ProxyEnvironment environment) : TestKit
{
    protected static readonly TimeSpan LongWait = TimeSpan.FromMinutes(2);

    protected static long InMinutes(double minutes) => DateTimeOffset.UtcNow.AddMinutes(minutes).ToUnixTimeMilliseconds();

    protected IActorRef Agent(int slots, TestProbe? registry = null, Func<WorkAssignment, ProxyOutcome>? work = null, TimeSpan? syntheticDelay = null,
        string? weights = null) =>
        Sys.ActorOf(TrainerAgent.Props(new TrainerAgentSettings("agent-1", slots, environment, weights ?? Path.GetTempPath())
        {
            Work = work,
            SyntheticDelay = syntheticDelay ?? TimeSpan.Zero,
            RegistrationInterval = TimeSpan.FromMilliseconds(200),
            TorchThreads = TeacherFixture.Threads, // an agent sets libtorch's threads for the process: keep the tests' count
        }, (registry ?? CreateTestProbe()).Ref));

    protected static string Arch(ulong seed)
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        return ArchJson.Write(space.Build(space.Sample(new DeterministicRng(seed))));
    }

    protected static WorkAssignment Assignment(int trial, int attempt = 1, QualityMode mode = QualityMode.Synthetic, string? arch = null, int steps = 10,
        long? deadline = null, string experiment = "exp") =>
        new(experiment, trial, attempt, arch ?? Arch((ulong)trial + 1), mode, steps, 1, deadline ?? InMinutes(10));

    protected static ProxyOutcome Scored(double score) => new(true, null, score, 0.1, 0.1, 10, 0.1, 10, 1000, "hash", null, null);

    protected TrainerStatus Status(IActorRef agent)
    {
        agent.Tell(GetTrainerStatus.Instance, TestActor);
        return ExpectMsg<TrainerStatus>();
    }
}

/// <summary>
/// The trainer agent itself, with TestKit probes standing in for the registry and the experiments: the
/// rules of its slots, kept results, cancellation and its experiments' deaths, on work the test controls
/// (synthetic quality, or a work function in place of training).
/// </summary>
public sealed class TrainerAgentTests() : TrainerAgentTestKit(new ProxyEnvironment())
{
    [Fact]
    public void Registers_with_the_registry_at_start_and_again_periodically()
    {
        var registry = CreateTestProbe();
        Agent(3, registry);
        Assert.Equal(new RegisterTrainer("agent-1", 3), registry.ExpectMsg<RegisterTrainer>());
        Assert.Equal(new RegisterTrainer("agent-1", 3), registry.ExpectMsg<RegisterTrainer>(TimeSpan.FromSeconds(10))); // a moved registry finds it
    }

    [Fact]
    public void Released_weights_are_deleted_only_inside_the_agents_own_weights_directory()
    {
        var root = Directory.CreateTempSubdirectory("nascluster-release-").FullName;
        try
        {
            var mine = Path.Combine(root, "w", "exp", "trial1.bin");
            var other = Path.Combine(root, "elsewhere.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(mine)!);
            File.WriteAllText(mine, "weights");
            File.WriteAllText(other, "not the agent's");
            Assert.True(TrainerAgent.Owns(Path.Combine(root, "w"), mine));
            Assert.False(TrainerAgent.Owns(Path.Combine(root, "w"), Path.Combine(root, "w", "..", "elsewhere.bin")));
            Assert.False(TrainerAgent.Owns(Path.Combine(root, "w"), Path.Combine(root, "wx", "a.bin")));

            var agent = Agent(1, weights: Path.Combine(root, "w"));
            agent.Tell(new ReleaseWeights("exp", [mine, other, Path.Combine(root, "w", "..", "elsewhere.bin")]));
            Status(agent); // processed in order: the release is done once the status comes back
            Assert.False(File.Exists(mine));
            Assert.True(File.Exists(other));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Beyond_its_slots_an_assignment_is_refused_and_the_mailbox_answers_while_it_trains()
    {
        var agent = Agent(1, syntheticDelay: TimeSpan.FromMinutes(10));
        agent.Tell(Assignment(1));
        agent.Tell(Assignment(2));
        Assert.Equal(new WorkRefused("exp", 2, 1), ExpectMsg<WorkRefused>());
        var status = Status(agent);
        Assert.Equal(["exp#1"], status.Running);
        Assert.Equal(1, status.Slots);
    }

    [Fact]
    public void A_result_is_kept_until_acknowledged_and_an_assignment_sent_again_is_answered_from_it()
    {
        var calls = 0;
        var agent = Agent(1, work: _ => Scored(0.5 + Interlocked.Increment(ref calls) / 100.0));
        agent.Tell(Assignment(7));
        var first = ExpectMsg<WorkResult>();
        Assert.Equal((7, 1, 0.51), (first.TrialId, first.Attempt, first.Outcome.Score));

        agent.Tell(Assignment(7, attempt: 2)); // the answer was lost; the experiment re-issues
        var again = ExpectMsg<WorkResult>();
        Assert.Equal((7, 2, 0.51), (again.TrialId, again.Attempt, again.Outcome.Score));
        Assert.Equal(1, Volatile.Read(ref calls)); // not trained twice

        agent.Tell(new WorkAck("exp", 7, 2));
        agent.Tell(Assignment(7, attempt: 3)); // acknowledged: a new assignment is new work
        Assert.Equal(0.52, ExpectMsg<WorkResult>().Outcome.Score);
        Assert.Equal(2, Volatile.Read(ref calls));
    }

    [Fact]
    public void An_assignment_of_a_trial_still_training_is_answered_once_when_it_ends()
    {
        using var gate = new ManualResetEventSlim(false);
        var agent = Agent(1, work: _ =>
        {
            gate.Wait(LongWait);
            return Scored(0.8);
        });
        var before = CreateTestProbe();
        var after = CreateTestProbe();
        agent.Tell(Assignment(3), before.Ref);
        agent.Tell(Assignment(3, attempt: 2), after.Ref); // e.g. a new incarnation of the experiment
        var status = Status(agent);
        Assert.Equal(["exp#3"], status.Running); // one training, not two
        gate.Set();
        var r = after.ExpectMsg<WorkResult>(LongWait);
        Assert.Equal((3, 2, 0.8), (r.TrialId, r.Attempt, r.Outcome.Score));
        before.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void At_its_deadline_a_training_is_cancelled_answered_as_failed_and_its_slot_freed()
    {
        var agent = Agent(1, syntheticDelay: TimeSpan.FromMinutes(10));
        agent.Tell(Assignment(4, deadline: DateTimeOffset.UtcNow.AddMilliseconds(300).ToUnixTimeMilliseconds()));
        var r = ExpectMsg<WorkResult>(TimeSpan.FromSeconds(30));
        Assert.False(r.Outcome.Succeeded);
        Assert.Equal("cancelled: the deadline passed", r.Outcome.FailureReason);
        var status = Status(agent);
        Assert.Empty(status.Running);
        Assert.Equal((0, 1), (status.Completed, status.Failed));
    }

    [Fact]
    public void When_its_experiment_dies_its_kept_results_are_dropped()
    {
        var calls = 0;
        var agent = Agent(2, work: _ => Scored(0.6 + Interlocked.Increment(ref calls) / 100.0));
        var experiment = CreateTestProbe();
        agent.Tell(Assignment(1), experiment.Ref);
        agent.Tell(Assignment(2), experiment.Ref);
        experiment.ExpectMsg<WorkResult>();
        experiment.ExpectMsg<WorkResult>();
        Assert.Equal(2, Status(agent).Unacknowledged); // kept: nobody acknowledged them
        Sys.Stop(experiment.Ref);
        AwaitAssert(() => Assert.Equal(0, Status(agent).Unacknowledged), TimeSpan.FromSeconds(20));
        var next = CreateTestProbe(); // the experiment's next incarnation re-issues what its ledger still needs
        agent.Tell(Assignment(1, attempt: 2), next.Ref);
        next.ExpectMsg<WorkResult>();
        Assert.Equal(3, Volatile.Read(ref calls));
    }

    [Fact]
    public void A_dead_experiments_training_is_cancelled_so_its_slot_takes_new_work()
    {
        var agent = Agent(1, syntheticDelay: TimeSpan.FromMinutes(10));
        var experiment = CreateTestProbe();
        agent.Tell(Assignment(1), experiment.Ref);
        Assert.Equal(["exp#1"], Status(agent).Running);
        Sys.Stop(experiment.Ref);
        AwaitAssert(() => Assert.Empty(Status(agent).Running), TimeSpan.FromSeconds(20));
        agent.Tell(Assignment(2) with { Experiment = "other" });
        Assert.Equal(["other#2"], Status(agent).Running); // not refused: the slot is free
    }

    [Fact]
    public void An_assignment_for_a_dataset_this_node_does_not_have_fails_naming_it_and_trains_nothing()
    {
        var agent = Agent(1);
        var missing = new ExperimentProtocol.ProxyDataset("folder", "/nonexistent/shapes", "0123456789abcdef", 3, 3, 96, 12);
        var training = new ExperimentProtocol.ProxyTraining(missing, 64, 0.003, 4, 1, 0.25, 32, new ExperimentProtocol.ProxyTeacherRecipe(40, 128, 0.003, 7, [8, 16, 32]));
        agent.Tell(Assignment(1, mode: QualityMode.Proxy, steps: 5) with { Training = training });
        var r = ExpectMsg<WorkResult>(LongWait);
        Assert.False(r.Outcome.Succeeded);
        Assert.Contains("the experiment's dataset (content hash 0123456789abcdef, folder, 3 classes) is not here", r.Outcome.FailureReason);
        Assert.Equal((0, 1), (Status(agent).Completed, Status(agent).Failed));
    }
}

/// <summary>The trainer agent training real proxies (TorchSharp, Fashion-MNIST, a tiny teacher).</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public sealed class TrainerAgentTrainingTests(TorchFixture fixture) : TrainerAgentTestKit(fixture.Environment)
{
    [Fact]
    public void Trains_a_real_proxy_and_answers_exactly_once_keeping_the_weights_file()
    {
        var weights = Directory.CreateTempSubdirectory("nascluster-agent-weights-").FullName;
        try
        {
            var agent = Agent(1, weights: weights);
            agent.Tell(Assignment(1, mode: QualityMode.Proxy, steps: 20));
            var r = ExpectMsg<WorkResult>(LongWait);
            Assert.True(r.Outcome.Succeeded, r.Outcome.FailureReason);
            Assert.Equal((20, "agent-1"), (r.Outcome.Steps, r.AgentId));
            Assert.InRange(r.Outcome.Score, 0.0, 1.0);
            Assert.True(File.Exists(r.Outcome.WeightsPath));
            Assert.StartsWith(Path.Combine(weights, "exp"), r.Outcome.WeightsPath);
            Assert.NotNull(r.Outcome.WeightsSha256);
            ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        }
        finally
        {
            Directory.Delete(weights, true);
        }
    }

    [Fact]
    public void Bad_candidates_fail_with_a_reason_and_the_agent_keeps_serving()
    {
        var agent = Agent(2);
        agent.Tell(Assignment(1, mode: QualityMode.Proxy, arch: "{ not json", steps: 5));
        var broken = ExpectMsg<WorkResult>(LongWait);
        Assert.False(broken.Outcome.Succeeded);
        Assert.Contains("invalid architecture", broken.Outcome.FailureReason);

        agent.Tell(Assignment(2, mode: QualityMode.Proxy, arch: ArchJson.Write(Untrainable.TwoInputs()), steps: 5));
        var twoInputs = ExpectMsg<WorkResult>(LongWait);
        Assert.Contains("cannot build the proxy", twoInputs.Outcome.FailureReason);

        agent.Tell(Assignment(3, mode: QualityMode.Proxy, steps: 5));
        var good = ExpectMsg<WorkResult>(LongWait);
        Assert.True(good.Outcome.Succeeded, good.Outcome.FailureReason);

        var status = Status(agent);
        Assert.Equal((1, 2), (status.Completed, status.Failed));
    }

    [Fact]
    public void Several_slots_train_at_once()
    {
        var agent = Agent(2);
        agent.Tell(Assignment(6, mode: QualityMode.Proxy, steps: 10));
        agent.Tell(Assignment(7, mode: QualityMode.Proxy, steps: 10));
        var results = new[] { ExpectMsg<WorkResult>(LongWait), ExpectMsg<WorkResult>(LongWait) };
        Assert.All(results, r => Assert.True(r.Outcome.Succeeded, r.Outcome.FailureReason));
        Assert.Equal([6, 7], results.Select(r => r.TrialId).Order());
    }
}

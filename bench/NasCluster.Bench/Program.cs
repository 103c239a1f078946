using NasCluster.Bench;

try
{
    return args.FirstOrDefault() switch
    {
        "ir" => IrBench.Run(args.Skip(1).ToArray()),
        "ppe" => PpeBench.Run(args.Skip(1).ToArray()),
        "proxy" => ProxyBench.Run(args.Skip(1).ToArray()),
        "proxy-noise" => ProxyNoiseBench.Run(args.Skip(1).ToArray()),
        "search" => SearchBench.Run(args.Skip(1).ToArray()),
        "cluster" => ClusterBench.Run(args.Skip(1).ToArray()),
        "service" => ServiceBench.Run(args.Skip(1).ToArray()),
        "analysis" => AnalysisBench.Run(args.Skip(1).ToArray()),
        "chaos" => ChaosBench.Run(args.Skip(1).ToArray()),
        _ => Usage(),
    };
}
catch (BenchArgumentException e)
{
    Console.Error.WriteLine($"{args[0]}: {e.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/NasCluster.Bench -- ir|ppe [--seconds S] | proxy [--space NAME] [--candidates N] [--steps S] [--batch B] [--factor F] [--reference-steps R] [--seed K] [--reference-seeds R] [--proxy-seeds P] [--threads T] [--runs FILE] [--list] | proxy-noise [--candidates N] [--seed K] [--steps S] [--batch B] [--lr L] [--warmup F] [--clip C] [--ema D] [--width W] [--threads T] | search [--trials N] [--seeds K] [--batch B] [--latency-target-ms T] [--optuna DIR] | cluster [overhead|processes|scaling|resume] [--trials N] [--scaling-trials N] [--delay-ms D] | service [--n N] [--python PATH] | analysis [--trials N] [--runs R] [--live-seconds S] [--db FILE] | chaos [--pg URL] [--trials N] [--kills K] [--seed S] [--spacing-min S] [--spacing-max S] [--overlap P] [--node-config FILE] [--keep]");
    return 2;
}

using System.CommandLine;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting;

/// <summary>
/// The entry point of the node executables (<c>nascluster-evaluator</c>, <c>nascluster-trainer</c>): parse,
/// run, and turn bad input into one "error:" line and exit code 2, as the <c>nascluster</c> tool does.
/// </summary>
public static class NodeMain
{
    public static int Run(RootCommand root, string[] args, Func<ParseResult, Task<int>> body)
    {
        root.SetAction(p =>
        {
            try
            {
                return body(p).GetAwaiter().GetResult();
            }
            catch (NasInputException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine($"Run '{root.Name} --help' for usage.");
            return 2;
        }
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = true });
    }

    /// <summary>Logs a node's start in the format the scripts and tests look for.</summary>
    public static void AnnounceUp(Akka.Actor.ActorSystem system, IEnumerable<string> roles)
    {
        var address = Akka.Cluster.Cluster.Get(system).SelfAddress;
        Console.Error.WriteLine($"node {address} is up with roles [{string.Join(", ", roles)}]");
    }
}

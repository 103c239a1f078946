using NasCluster.Coordinator.Cli;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>The real <c>nascluster</c> command tree run in this process, with what it printed; and the bad-input contract.</summary>
public static class InProcessCli
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Bad input is exit 2 and one line "error: …" on standard error, with no stack trace.</summary>
    public static void AssertBadInput((int Code, string Out, string Err) r, string what)
    {
        Assert.True(r.Code == ExitCodes.BadInput, $"{what}: exit {r.Code}, stderr: {r.Err}");
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.DoesNotContain("Exception", r.Err);
    }
}

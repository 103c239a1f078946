using NasCluster.Coordinator.Cli;

namespace NasCluster.Coordinator.Tests.Cli;

/// <summary>Runs the real command tree in-process and captures what it prints.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Err)
{
    public static CliResult Run(params string[] args) => RunWithInput(null, args);

    public static CliResult RunWithInput(string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr, stdin is null ? null : new StringReader(stdin));
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Bad input must be one clear line, a usage exit code and no stack trace.</summary>
    public void AssertBadInput(params string[] mustContain)
    {
        Assert.Equal(ExitCodes.BadInput, ExitCode);
        Assert.StartsWith("error: ", Err);
        foreach (var s in mustContain) Assert.Contains(s, Err);
        Assert.DoesNotContain("   at ", Err);
        Assert.DoesNotContain("Exception", Err);
    }
}

/// <summary>A fresh directory per test, removed afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("nascluster-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

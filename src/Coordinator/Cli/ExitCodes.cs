namespace NasCluster.Coordinator.Cli;

/// <summary>Process exit codes of every NasCluster command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The command ran and failed (an environment or internal problem).</summary>
    public const int Failure = 1;

    /// <summary>Bad input: usage, an unknown name, an invalid file or network. Nothing was changed.</summary>
    public const int BadInput = 2;
}

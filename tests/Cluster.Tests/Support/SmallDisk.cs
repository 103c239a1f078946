using System.Diagnostics;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// A small file system of its own (tmpfs, mounted by the test), to fill up or make read-only under a
/// running search. Needs root, which CI has; <see cref="SmallDiskFactAttribute"/> skips where mounting is
/// not allowed.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    public SmallDisk(string directory, int sizeKiB)
    {
        Path = directory;
        Directory.CreateDirectory(directory);
        Mount("-t", "tmpfs", "-o", $"size={sizeKiB}k,mode=0755", "tmpfs", directory);
    }

    public string Path { get; }

    public void Resize(int sizeKiB) => Mount("-o", $"remount,size={sizeKiB}k", Path);

    public void ReadOnly(bool readOnly) => Mount("-o", readOnly ? "remount,ro" : "remount,rw", Path);

    public void Dispose() => Run("umount", "-l", Path);

    private static void Mount(params string[] args)
    {
        var (code, output) = Run("mount", args);
        if (code != 0) throw new InvalidOperationException($"mount {string.Join(' ', args)}: {output}");
    }

    private static (int Code, string Output) Run(string command, params string[] args)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var output = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    /// <summary>Whether this process may mount a tmpfs (root in a machine or container that allows it).</summary>
    public static string? CannotMount()
    {
        var dir = Directory.CreateTempSubdirectory("nas-mount-probe-").FullName;
        try
        {
            using var disk = new SmallDisk(dir, 64);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return e.Message;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

/// <summary>A test that needs <see cref="SmallDisk"/>: skipped, with the reason, where mounting a tmpfs is not allowed (not root).</summary>
public sealed class SmallDiskFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Reason = new(SmallDisk.CannotMount);

    public SmallDiskFactAttribute()
    {
        if (Reason.Value is { } why) Skip = $"needs to mount a small tmpfs (root; CI runs as root): {why.Trim()}";
    }
}

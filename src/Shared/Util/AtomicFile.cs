using System.Text;

namespace NasCluster.Shared.Util;

/// <summary>
/// Writes a file whole or not at all: into a temporary file beside it, then renamed over the target, so a
/// failure (a full disk, an exception while writing) leaves neither a half-written file nor a damaged old
/// one. An unwritable place is the user's error (<see cref="NasInputException"/> naming the path).
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<TextWriter> write, string what)
    {
        string? tmp = null;
        try
        {
            var full = Path.GetFullPath(path);
            var dir = Path.GetDirectoryName(full) ?? ".";
            Directory.CreateDirectory(dir);
            tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            using (var writer = new StreamWriter(tmp, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
                write(writer);
            File.Move(tmp, full, overwrite: true);
            tmp = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new NasInputException($"cannot write {what}: {e.Message}", path);
        }
        finally
        {
            if (tmp is not null) TryDelete(tmp);
        }
    }

    public static void Write(string path, string text, string what) => Write(path, w => w.Write(text), what);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the temporary file is hidden and named by the error that matters is reported.
        }
    }
}

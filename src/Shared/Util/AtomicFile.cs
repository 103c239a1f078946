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
            if (tmp is not null) TryDelete(() => File.Delete(tmp));
        }
    }

    public static void Write(string path, string text, string what) => Write(path, w => w.Write(text), what);

    /// <summary>
    /// A folder whole or not at all: <paramref name="fill"/> writes into a temporary folder beside
    /// <paramref name="path"/>, which then replaces it; on failure the temporary folder is removed.
    /// </summary>
    public static void WriteDirectory(string path, Action<string> fill, string what)
    {
        string? tmp = null;
        try
        {
            var full = Path.GetFullPath(path);
            tmp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
            Directory.CreateDirectory(tmp);
            fill(tmp);
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Directory.Move(tmp, full);
            tmp = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new NasInputException($"cannot write {what}: {e.Message}", path);
        }
        finally
        {
            if (tmp is not null) TryDelete(() => Directory.Delete(tmp, recursive: true));
        }
    }

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the temporary file or folder is hidden and uniquely named; the error that matters is reported.
        }
    }
}

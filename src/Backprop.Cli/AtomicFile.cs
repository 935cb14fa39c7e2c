using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Replaces a file whole or not at all, for writers that only take a path (ScottPlot's savers): the
/// writer fills a temporary next to the target (named, and cleaned up after a kill, by the library's
/// <see cref="TemporaryFiles"/>, as model files are), the temporary is flushed to disk and renamed over the target.</summary>
internal static class AtomicFile
{
    /// <summary>Runs <paramref name="write"/> on a fresh temporary path, then renames it over <paramref name="path"/>.
    /// On any failure the temporary is deleted, the exception propagates and an existing file at
    /// <paramref name="path"/> is left as it was.</summary>
    public static void Write(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        TemporaryFiles.RemoveStale(target);
        string temporary = TemporaryFiles.NewName(target);
        try
        {
            write(temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                stream.Flush(flushToDisk: true);   // the bytes are on disk before the name points at them
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Keep the original exception; the temporary's name says what it is and the next write removes it.
            }
            throw;
        }
    }
}

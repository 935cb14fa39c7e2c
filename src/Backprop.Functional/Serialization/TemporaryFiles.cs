using System.Diagnostics;
using System.Globalization;

namespace Backprop.Functional;

/// <summary>Names the temporary file an atomic write goes through, and removes the ones a killed process left.</summary>
/// <remarks>
/// A write of <c>T</c> goes to <c>T.tmp-&lt;pid&gt;-&lt;random 8.3 name&gt;</c> and is renamed over <c>T</c>. A process
/// killed between the two (SIGKILL, power loss) leaves that file behind; the next write of <c>T</c> deletes every
/// <c>T.tmp-&lt;pid&gt;-…</c> whose process is no longer running (process ids as this machine sees them: a writer in
/// another pid namespace or on another host sharing the folder is not seen). Temporaries named before the pid was
/// part of the name (<c>T.tmp-&lt;random 8.3 name&gt;</c>) are deleted once they are a day old. Anything else,
/// folders included, is left alone.
/// </remarks>
internal static class TemporaryFiles
{
    /// <summary>How old a temporary without a pid in its name must be to count as abandoned.</summary>
    public static readonly TimeSpan LegacyAge = TimeSpan.FromDays(1);

    /// <summary>A fresh temporary name next to <paramref name="target"/> (a full path), owned by this process.</summary>
    public static string NewName(string target) =>
        string.Create(CultureInfo.InvariantCulture, $"{target}.tmp-{Environment.ProcessId}-{Path.GetRandomFileName()}");

    /// <summary>Replaces <paramref name="path"/> whole or not at all, for writers that take a path (the CLI's plot):
    /// <paramref name="write"/> fills a fresh temporary next to it, which is flushed to disk and renamed over the target.
    /// On any failure the temporary is deleted, the exception propagates and an existing file is left as it was.
    /// Model files and checkpoints take the stream form, <see cref="SafeTensors.WriteAtomically{TContent}"/>.</summary>
    public static void Replace(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        RemoveStale(target);
        string temporary = NewName(target);
        try
        {
            write(temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                stream.Flush(flushToDisk: true);   // the bytes are on disk before the name points at them
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            Discard(temporary);
            throw;
        }
    }

    /// <summary>Deletes a temporary after a failed write. Best effort: the caller rethrows its own exception, and a
    /// temporary left here is removed by the next write of its target.</summary>
    public static void Discard(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Keep the caller's exception; the temporary's name says what it is.
        }
    }

    /// <summary>Deletes the abandoned temporaries of <paramref name="target"/> (a full path). Best effort: never throws.</summary>
    public static void RemoveStale(string target)
    {
        string? dir = Path.GetDirectoryName(target);
        if (string.IsNullOrEmpty(dir)) return;
        string prefix = Path.GetFileName(target) + ".tmp-";
        try
        {
            foreach (string file in Directory.EnumerateFiles(dir))
            {
                string name = Path.GetFileName(file);
                if (name.StartsWith(prefix, StringComparison.Ordinal) && IsAbandoned(file, name.AsSpan(prefix.Length)))
                    TryDelete(file);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder cannot be listed: the write itself will say what is wrong.
        }
    }

    private static bool IsAbandoned(string file, ReadOnlySpan<char> suffix)
    {
        int dash = suffix.IndexOf('-');
        if (dash > 0 && IsRandomName(suffix[(dash + 1)..])
            && int.TryParse(suffix[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            return !IsRunning(pid);
        if (IsRandomName(suffix))
        {
            try
            {
                return DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > LegacyAge;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>Path.GetRandomFileName's shape: 8 characters, a dot, 3 characters, lower-case letters and digits.</summary>
    private static bool IsRandomName(ReadOnlySpan<char> s)
    {
        if (s.Length != 12 || s[8] != '.') return false;
        for (int i = 0; i < s.Length; i++)
            if (i != 8 && !char.IsAsciiLetterLower(s[i]) && !char.IsAsciiDigit(s[i])) return false;
        return true;
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return true;
        }
        catch (ArgumentException)
        {
            return false;   // no process with that id
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or PlatformNotSupportedException)
        {
            return true;    // cannot tell: keep the file
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another writer removed or holds it; leave it.
        }
    }
}

using System.Diagnostics;

namespace Backprop.Functional.Tests;

/// <summary>A named pipe (made with mkfifo) fed from another thread: a file that cannot seek and has no length,
/// as <c>/dev/stdin</c> or a shell's <c>&lt;(…)</c> is.</summary>
internal sealed class Fifo : IDisposable
{
    private readonly Task _feed;

    public Fifo(string path, byte[] bytes)
    {
        Path = path;
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!)
        {
            mkfifo.WaitForExit();
            if (mkfifo.ExitCode != 0) throw new IOException($"mkfifo {path} exited with {mkfifo.ExitCode}");
        }

        _feed = Task.Run(() =>
        {
            try
            {
                using var writer = new FileStream(path, FileMode.Open, FileAccess.Write);
                writer.Write(bytes);
            }
            catch (IOException)
            {
                // The reader stopped early (it refused the data): that is what some tests check.
            }
        });
    }

    public string Path { get; }

    /// <summary>Unblocks the writer if nobody opened the pipe, then waits for it.</summary>
    public void Dispose()
    {
        if (!_feed.Wait(TimeSpan.FromMilliseconds(100)))
        {
            using var reader = new FileStream(Path, FileMode.Open, FileAccess.Read);
            reader.CopyTo(Stream.Null);
        }

        _feed.Wait();
    }
}

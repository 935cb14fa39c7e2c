using System.Diagnostics;
using System.Text;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>A <c>backprop train</c> process killed (SIGKILL) while it writes its model leaves the old model intact
/// and a temporary file; the next save of that model removes the temporary.</summary>
public class KilledSaveTests
{
    [Fact]
    public void Killed_mid_save_leaves_the_old_model_and_the_next_save_leaves_no_temporary()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["tiny.csv"], "x1,x2,label\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n");
        string model = dir["m.safetensors"];
        // A 2-2000000-2 network: 8,000,000 parameters, a 32 MB file whose write and flush to disk take long
        // enough to be caught under way, while the one-epoch training on four rows is quick.
        string[] args = ["train", "--csv", dir["tiny.csv"], "--label-column", "label", "--layers", "2-2000000-2", "--epochs", "1", "--out", model];
        var first = Cli.Run(args);
        Assert.True(first.ExitCode == 0, first.ToString());
        byte[] good = File.ReadAllBytes(model);
        File.Delete(model + ".png");

        bool caught = false;
        for (int attempt = 0; attempt < 5 && !caught; attempt++)
        {
            using var child = Start(args);
            var stop = Stopwatch.StartNew();
            while (!child.HasExited && stop.Elapsed < TimeSpan.FromMinutes(2))
            {
                if (Directory.GetFiles(dir.Path, "m.safetensors.tmp-*").Length > 0)
                {
                    child.Kill();   // SIGKILL on Unix
                    break;
                }

                Thread.Sleep(1);
            }

            child.WaitForExit();
            // Caught only if the kill landed before the rename: the temporary is still there.
            caught = Directory.GetFiles(dir.Path, "m.safetensors.tmp-*").Length > 0;
        }

        Assert.True(caught, "no save was killed while under way in 5 tries");
        Assert.Equal(good, File.ReadAllBytes(model));   // the old model is intact (or, rarely, renamed over by an equal one)

        var next = Cli.Run(args);
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Empty(Directory.GetFiles(dir.Path, "m.safetensors.tmp-*"));
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "backprop.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        var p = Process.Start(start)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }
}

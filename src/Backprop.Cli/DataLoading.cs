using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Loads the training and test sets a <see cref="DataSource"/> names.</summary>
internal static class DataLoading
{
    /// <summary>MNIST (train and test) or the CSV files; without a test CSV the training set is evaluated.</summary>
    public static (Dataset Train, Dataset Test, bool TestIsTrain) Load(DataSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.IsCsv)
        {
            string dir = MnistDir(source.MnistDir);
            return (Mnist.LoadTrain(dir), Mnist.LoadTest(dir), false);
        }

        var train = LoadCsv(source.Csv!, source, classes: null);
        if (source.TestCsv is null) return (train, train, true);
        var test = LoadCsv(source.TestCsv, source, source.Regression ? null : train.Outputs);
        if (test.Features != train.Features)
            throw new CliException($"{source.TestCsv} has {test.Features} feature columns but {source.Csv} has {train.Features}");
        return (train, test, false);
    }

    /// <summary>The MNIST test set (for eval and predict): only the two t10k files need to be there.</summary>
    public static Dataset MnistTest(string? dir) => Mnist.LoadTest(MnistDir(dir, testSetOnly: true));

    public static Dataset LoadCsv(string path, DataSource source, int? classes)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: no such file");
        if (classes > Csv.MaxClasses)
            throw new CliException($"{path}: the model has {classes} outputs, more classes than a CSV label column may name ({Csv.MaxClasses})");
        return Csv.Load(path, source.LabelColumn!, source.Regression ? CsvTargets.Regression : CsvTargets.OneHot, classes);
    }

    private static string MnistDir(string? dir, bool testSetOnly = false)
    {
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"--data {dir}: no such directory");
        // Download messages go to stderr, so stdout stays the report.
        return MnistDownload.LocateOrFetch(dir, Console.Error, testSetOnly);
    }
}

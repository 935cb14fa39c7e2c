using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Backprop.Cli;

/// <summary>
/// The King James Bible (1611, public domain) as one plain text for the character-level language model: fetched from
/// Debian's package <c>bible-kjv-text</c> with <c>apt-get download</c> (no root needed) and <c>dpkg-deb -x</c>, its
/// <c>usr/lib/bible.data</c> decoded (<see cref="BibleDataFile"/>), checked and cached as <see cref="FileName"/> in
/// <see cref="DefaultCacheDirectory"/>, as <c>scripts/fetch-kjv.sh</c> does. The text is ASCII (so UTF-8): a title line,
/// then one verse a line, <c>Ge1:1 In the beginning God created the heaven and the earth.</c>; 4 404 475 bytes,
/// 31 103 lines, 73 distinct characters. Writes into the shared cache folder (temporary file, then an atomic rename),
/// so a reader never sees a partial file.
/// </summary>
internal static class KjvDownload
{
    /// <summary>The Debian package that <see cref="Fetch"/> downloads.</summary>
    public const string DebianPackage = "bible-kjv-text";

    /// <summary>The file inside the package that holds the text (the concordance beside it is not needed).</summary>
    public const string DataFileInPackage = "usr/lib/bible.data";

    /// <summary>The cached text's file name.</summary>
    public const string FileName = "kjv.txt";

    /// <summary>What the decoded text of <c>bible-kjv-text</c> 4.38 (unchanged since the text file of 1993-01-05) is.</summary>
    public static readonly ExpectedText Kjv = new(
        4_404_475,
        "Holy Bible, Authorized (King James) Version.  Textfile 930105.",
        "e53aaf0af1e58f259e35d0d9f7ca1bbe154fd77bb95471279b37b34d3c397a98");

    /// <summary>A text the fetch must produce: its size in bytes, its first line and its SHA-256 (lower-case hex).</summary>
    public sealed record ExpectedText(long Bytes, string FirstLine, string Sha256);

    /// <summary>The cache folder: <c>$XDG_CACHE_HOME/backprop/kjv</c> if that variable holds an absolute path, else
    /// <c>~/.cache/backprop/kjv</c> (as MNIST's, <c>Mnist.DefaultCacheDirectory</c>).</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "backprop", "kjv");
        }
    }

    /// <summary>The cached text's path, <see cref="DefaultCacheDirectory"/>/<see cref="FileName"/>.</summary>
    public static string DefaultPath => Path.Combine(DefaultCacheDirectory, FileName);

    /// <summary>Finds the text to train on: <paramref name="textFile"/> if given (any UTF-8 text of the user's), else
    /// the cached KJV when it is there with the right size.</summary>
    /// <param name="textFile">A file chosen by the user, or <see langword="null"/> for the cache.</param>
    /// <returns>The path, or <see langword="null"/> when <paramref name="textFile"/> is <see langword="null"/> and the cache lacks the text.</returns>
    /// <exception cref="FileNotFoundException"><paramref name="textFile"/> was given and does not exist.</exception>
    public static string? Locate(string? textFile) => Locate(textFile, DefaultCacheDirectory);

    /// <summary><see cref="Locate(string?)"/> with the cache in <paramref name="cacheDir"/>.</summary>
    public static string? Locate(string? textFile, string cacheDir)
    {
        if (textFile is not null)
            return File.Exists(textFile) ? textFile : throw new FileNotFoundException($"{textFile}: no such text file", textFile);
        var cached = new FileInfo(Path.Combine(cacheDir, FileName));
        return cached.Exists && cached.Length == Kjv.Bytes ? cached.FullName : null;
    }

    /// <summary>Returns <see cref="Locate(string?)"/>'s path, or explains how to get the text when there is none.</summary>
    /// <param name="textFile">A file chosen by the user, or <see langword="null"/> for the cache.</param>
    /// <returns>The path of the text.</returns>
    /// <exception cref="FileNotFoundException">The file is missing; the message names it and how to fetch the KJV.</exception>
    public static string Require(string? textFile) => Require(textFile, DefaultCacheDirectory);

    /// <summary><see cref="Require(string?)"/> with the cache in <paramref name="cacheDir"/>.</summary>
    public static string Require(string? textFile, string cacheDir) =>
        Locate(textFile, cacheDir) ?? throw new FileNotFoundException(
            $"{Path.Combine(cacheDir, FileName)}: the KJV text is not cached. {FetchInstructions(cacheDir)}", Path.Combine(cacheDir, FileName));

    /// <summary><see cref="Locate(string?)"/>'s path, fetching the KJV into <see cref="DefaultCacheDirectory"/> first when
    /// <paramref name="textFile"/> is <see langword="null"/> and the cache lacks it.</summary>
    public static string LocateOrFetch(string? textFile, TextWriter log) =>
        Locate(textFile) ?? Fetch(DefaultCacheDirectory, log);

    /// <summary>Downloads <see cref="DebianPackage"/> into a temporary folder, decodes its text and caches it as
    /// <paramref name="cacheDir"/>/<see cref="FileName"/> after checking its size, first line and SHA-256. Does nothing
    /// if a checked text is already there.</summary>
    /// <returns>The cached file's path.</returns>
    /// <exception cref="InvalidOperationException">apt-get or dpkg-deb is missing or fails (the message says why, and what to do instead).</exception>
    /// <exception cref="InvalidDataException">The package lacks the data file, or it does not decode to the expected text; nothing is written.</exception>
    public static string Fetch(string cacheDir, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(cacheDir);
        ArgumentNullException.ThrowIfNull(log);
        string target = Path.Combine(cacheDir, FileName);
        if (File.Exists(target) && Problem(File.ReadAllBytes(target), Kjv) is null)
        {
            log.WriteLine($"KJV text already in {target}");
            return target;
        }

        DirectoryInfo temp = Directory.CreateTempSubdirectory("backprop-kjv-");
        try
        {
            log.WriteLine($"Downloading the KJV: apt-get download {DebianPackage} (about 2.4 MB) ...");
            Run("apt-get", temp.FullName, cacheDir, "download", DebianPackage);
            string[] debs = Directory.GetFiles(temp.FullName, "*.deb");
            if (debs.Length != 1)
                throw new InvalidOperationException($"Cannot fetch the KJV text: apt-get download {DebianPackage} produced {debs.Length} .deb files. {FetchInstructions(cacheDir)}");
            log.WriteLine($"Decoding {Path.GetFileName(debs[0])} into {target} ...");
            Install(debs[0], Path.Combine(temp.FullName, "root"), cacheDir, Kjv);
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

        log.WriteLine($"KJV text ready in {target}");
        return target;
    }

    /// <summary>Extracts <paramref name="deb"/> into <paramref name="extractDir"/> with <c>dpkg-deb -x</c>, decodes its
    /// <see cref="DataFileInPackage"/>, checks the text against <paramref name="expected"/> and only then writes it to
    /// <paramref name="cacheDir"/>/<see cref="FileName"/> (a temporary file renamed into place).</summary>
    /// <returns>The cached file's path.</returns>
    /// <exception cref="InvalidDataException">The package lacks the data file, the file is not EC02 or is corrupt, or
    /// the text is not the expected one; the message says which, and the cache is left as it was.</exception>
    public static string Install(string deb, string extractDir, string cacheDir, ExpectedText expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        Directory.CreateDirectory(extractDir);
        Run("dpkg-deb", extractDir, cacheDir, "-x", Path.GetFullPath(deb), extractDir);
        var data = new FileInfo(Path.Combine(extractDir, DataFileInPackage));
        if (!data.Exists)
            throw new InvalidDataException($"{Path.GetFileName(deb)} has no {DataFileInPackage}: not the {DebianPackage} package this was written for. Nothing was written to {cacheDir}.");
        if (data.Length > BibleDataFile.MaxTextBytes)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{DataFileInPackage} in {Path.GetFileName(deb)} is {data.Length} bytes, more than a text this size compresses to. Nothing was written to {cacheDir}."));

        byte[] text = BibleDataFile.Decode(File.ReadAllBytes(data.FullName), $"{DataFileInPackage} in {Path.GetFileName(deb)}");
        if (Problem(text, expected) is { } problem)
            throw new InvalidDataException($"{DebianPackage} decoded to a text that is not the expected one: {problem}. Nothing was written to {cacheDir}.");
        return Store(text, cacheDir);
    }

    /// <summary>Why <paramref name="text"/> is not <paramref name="expected"/> (size, first line, SHA-256, in that
    /// order), or <see langword="null"/>.</summary>
    public static string? Problem(ReadOnlySpan<byte> text, ExpectedText expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (text.Length != expected.Bytes)
            return string.Create(CultureInfo.InvariantCulture, $"{text.Length} bytes, expected {expected.Bytes} (partial or corrupt)");
        int newline = text.IndexOf((byte)'\n');
        string first = Encoding.UTF8.GetString(newline < 0 ? text : text[..newline]);
        if (first != expected.FirstLine)
            return $"its first line is \"{(first.Length > 80 ? first[..80] + "…" : first)}\", expected \"{expected.FirstLine}\"";
        string sha = Convert.ToHexStringLower(SHA256.HashData(text));
        return sha == expected.Sha256 ? null : $"its SHA-256 is {sha}, expected {expected.Sha256} (corrupt)";
    }

    /// <summary>Writes <paramref name="text"/> to a temporary file beside the target, then renames it into place:
    /// a reader (or a killed fetch) never leaves a partial <see cref="FileName"/>.</summary>
    public static string Store(ReadOnlySpan<byte> text, string cacheDir)
    {
        Directory.CreateDirectory(cacheDir);
        string target = Path.Combine(cacheDir, FileName);
        string partial = string.Create(CultureInfo.InvariantCulture, $"{target}.{Environment.ProcessId}.partial");
        try
        {
            using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                output.Write(text);
                output.Flush(flushToDisk: true);
            }

            File.Move(partial, target, overwrite: true);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }

        return target;
    }

    private static string FetchInstructions(string cacheDir) =>
        $"The text comes from Debian's package {DebianPackage} ({DataFileInPackage}, a compressed EC02 file): scripts/fetch-kjv.sh {cacheDir} " +
        "or the backprop CLI fetch and decode it on a system with apt-get and dpkg-deb (after 'apt-get update' if the package lists are empty). " +
        "Elsewhere, train on any UTF-8 text file of your own.";

    private static void Run(string tool, string workDir, string cacheDir, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = workDir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        string command = $"{tool} {string.Join(' ', arguments)}";

        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot fetch the KJV text: {tool} could not be started ({e.Message}). {FetchInstructions(cacheDir)}", e);
        }

        if (process is null)
            throw new InvalidOperationException($"Cannot fetch the KJV text: {tool} could not be started. {FetchInstructions(cacheDir)}");

        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"Cannot fetch the KJV text: {command} did not finish within 10 minutes. {FetchInstructions(cacheDir)}");
            }

            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string error = stderr.GetAwaiter().GetResult().Trim();
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Cannot fetch the KJV text: {command} exited with code {process.ExitCode}: {error} {FetchInstructions(cacheDir)}"));
            }

            _ = stdout.GetAwaiter().GetResult();
        }
    }
}

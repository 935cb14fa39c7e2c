using System.Globalization;

namespace Backprop.Cli;

/// <summary>Checks, before any data is loaded or any epoch runs, that <c>train --out</c> names a file that can be
/// written: not a folder, not under a file, in a folder that accepts new files.</summary>
internal static class OutputPath
{
    /// <summary>Throws <see cref="CliException"/> (exit 1) with one line naming the problem; writes nothing that
    /// stays (a probe file is created and deleted in the nearest existing folder) and creates no folder.</summary>
    public static void Check(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full) || Path.EndsInDirectorySeparator(path))
            throw new CliException($"--out {path}: is a folder; give a file name, e.g. {Path.Combine(path, "model.safetensors")}");

        // The nearest folder that exists: train creates the missing ones below it when it saves.
        string? folder = Path.GetDirectoryName(full);
        while (folder is not null && !Directory.Exists(folder))
        {
            if (File.Exists(folder)) throw new CliException($"--out {path}: {folder} is a file, not a folder");
            folder = Path.GetDirectoryName(folder);
        }

        if (folder is null) throw new CliException($"--out {path}: no folder of {full} exists");
        string probe = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Path.GetRandomFileName()}"));
        try
        {
            using var _ = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--out {path}: cannot write in {folder} ({Reason(e, probe)})");
        }
    }

    private static string Reason(Exception e, string probe) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "the folder does not accept new files",
        _ => e.Message.Replace($"'{probe}'", "", StringComparison.Ordinal).Replace(probe, "", StringComparison.Ordinal)
            .ReplaceLineEndings(" ").TrimEnd(' ', ':', '.').Trim(),
    };
}

using System.Diagnostics;
using Xunit;

namespace Backprop.Functional.Tests.Serialization;

/// <summary>A save writes <c>&lt;target&gt;.tmp-&lt;pid&gt;-&lt;random&gt;</c> and renames it; a process killed between the
/// two leaves that file behind, and the next save of the same target removes it once its process is gone.</summary>
public sealed class StaleTemporaryFileTests : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The id of a process that has run and exited, so is certainly not running now.</summary>
    private static int ExitedProcessId()
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", "--version")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(start)!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.Id;
    }

    private string[] Entries() => [.. Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public void Save_removes_leftover_temporaries_of_its_target_whose_process_is_gone()
    {
        string target = _dir.File("m.safetensors");
        int dead = ExitedProcessId();
        File.WriteAllBytes(target + $".tmp-{dead}-abcdefgh.ijk", new byte[100]);
        File.WriteAllBytes(target + $".tmp-{int.MaxValue}-zzzzzzzz.zzz", new byte[3]);   // above any pid_max

        ModelFiles.SaveSmall(target);

        Assert.Equal(["m.safetensors"], Entries());
        Assert.NotNull(ModelFile.Load(target));
    }

    [Fact]
    public void Save_keeps_a_live_process_temporary_and_other_files()
    {
        string target = _dir.File("m.safetensors");
        string live = target + $".tmp-{Environment.ProcessId}-livelive.abc";   // a save under way in this process
        File.WriteAllBytes(live, new byte[10]);
        File.WriteAllBytes(_dir.File("other.safetensors") + $".tmp-{int.MaxValue}-abcdefgh.ijk", new byte[10]);   // another target's
        File.WriteAllBytes(target + ".tmp-notes", new byte[10]);      // not our pattern: not ours to delete
        Directory.CreateDirectory(target + $".tmp-{int.MaxValue}-folder");   // a folder is never deleted

        ModelFiles.SaveSmall(target);

        string[] kept = ["m.safetensors", $"m.safetensors.tmp-{Environment.ProcessId}-livelive.abc", $"m.safetensors.tmp-{int.MaxValue}-folder",
            "m.safetensors.tmp-notes", $"other.safetensors.tmp-{int.MaxValue}-abcdefgh.ijk"];
        Assert.Equal(kept.Order(StringComparer.Ordinal), Entries());
    }

    [Fact]
    public void Save_removes_an_old_temporary_from_before_pids_were_in_the_name_only_when_it_is_a_day_old()
    {
        string target = _dir.File("m.safetensors");
        string old = target + ".tmp-abcdefgh.ijk", recent = target + ".tmp-qrstuvwx.yz1";
        File.WriteAllBytes(old, new byte[10]);
        File.WriteAllBytes(recent, new byte[10]);
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddDays(-2));

        ModelFiles.SaveSmall(target);

        Assert.Equal(["m.safetensors", "m.safetensors.tmp-qrstuvwx.yz1"], Entries());
    }
}

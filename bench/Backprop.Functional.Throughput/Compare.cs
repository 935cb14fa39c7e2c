using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Backprop.Functional.Throughput;

/// <summary>Runs this library and the TorchSharp peer alternately, several times each, and writes the median
/// figures and their ratios (the peer at its best thread count) to a markdown table.</summary>
internal static class Compare
{
    private sealed record Row(string Workload, string Metric, bool HigherIsBetter, int OurThreads, double Ours, double PeerBest,
        int PeerThreads, double OurBytes, double PeerBytes, double OurAccuracy, double PeerAccuracy);

    /// <summary>How one workload is compared: the RESULT field that is its figure, whether higher is better, our default
    /// thread count ("W@N" overrides it), the fields holding accuracy and managed bytes, and whether the peer is taken at
    /// our thread count (the issue asks "on one thread and on two") instead of at its better one.</summary>
    private sealed record Spec(string Metric, bool Higher, int Threads, string Accuracy = "test_acc",
        string Bytes = "gc_bytes_per_step", bool PeerAtOurThreads = false);

    // A workload is added by listing it here (and in the peer, bench/peers/torchsharp, and in `e2e`).
    private static readonly Dictionary<string, Spec> Specs = new()
    {
        ["W1"] = new("samples_per_s", true, 1),
        ["W2"] = new("samples_per_s", true, 2),
        ["W3"] = new("samples_per_s", true, 2),
        ["W4"] = new("steps_per_s", true, 1, Accuracy: "test_acc_after_20k_steps"),
        // Predictor (one thread); the same runs give Network.Forward on 2 threads
        ["I1"] = new("median_us", false, 2, "test_acc_of_trained_W2", "gc_bytes_per_call"),
        ["G1"] = new("gflops_1024_median", true, 2),
        // Issue 12: sequential-MNIST LSTM-128, batch 64 (list as L1@1,L1@2); one-sequence latency (L2@1,L2@2).
        ["L1"] = new("samples_per_s", true, 1, PeerAtOurThreads: true),
        ["L2"] = new("median_us", false, 1, "test_acc_of_trained_L1", "gc_bytes_per_call", PeerAtOurThreads: true),
        // The same training and latency with a GRU-128 (nn.GRU on the peer's side): L3@1, L3@2, L4@1.
        ["L3"] = new("samples_per_s", true, 1, PeerAtOurThreads: true),
        ["L4"] = new("median_us", false, 1, "test_acc_of_trained_L3", "gc_bytes_per_call", PeerAtOurThreads: true),
        // And with a tanh RNN-128 (nn.RNN): L5@1, L5@2, L6@1.
        ["L5"] = new("samples_per_s", true, 1, PeerAtOurThreads: true),
        ["L6"] = new("median_us", false, 1, "test_acc_of_trained_L5", "gc_bytes_per_call", PeerAtOurThreads: true),
    };

    /// <summary>The peer's run.sh: the repository's copy (bench/peers/torchsharp), else the shared one beside or in the root.</summary>
    private static string PeerScript(string root)
    {
        string[] candidates =
        [
            Path.Combine(root, "bench", "peers", "torchsharp", "run.sh"),
            Path.Combine(root, "..", "shared", "peers", "torchsharp", "run.sh"),
            Path.Combine(root, "shared", "peers", "torchsharp", "run.sh"),
        ];
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }

    /// <summary>The workloads of the table at the top of bench/RESULTS.md.</summary>
    internal const string DefaultWorkloads = "W1,W2,W3,W4,I1,G1,G1@1";

    /// <summary><paramref name="outFile"/> empty: the default run writes bench/RESULTS.md's head, a run of other
    /// workloads only prints (so `--workloads L1@1` cannot replace the table of W1–G1 with one row).</summary>
    public static int Run(int runs, string[] workloads, string mnist, string outFile)
    {
        if (outFile.Length == 0)
            outFile = string.Join(',', workloads) == DefaultWorkloads ? Path.Combine(FindRoot(), "bench", "RESULTS.md") : "";
        string self = Environment.ProcessPath!;
        // The managed build runs its own dll again under dotnet; a NativeAOT build (no dll beside it) runs its own binary.
        string dll = Path.Combine(AppContext.BaseDirectory, typeof(Compare).Assembly.GetName().Name + ".dll");
        (string program, string prefix) = File.Exists(dll)
            ? (self.EndsWith("dotnet", StringComparison.Ordinal) ? self : "dotnet", $"\"{dll}\" ")
            : (self, "");
        string root = FindRoot();
        string peer = PeerScript(root);
        Console.Error.WriteLine($"peer: {peer}");
        var rows = new List<Row>();
        var ceiling = Peak.Ceiling();
        Console.Error.WriteLine($"FMA ceiling: {ceiling.OneCore:F1} GFLOP/s on one core, {ceiling.AllCores:F1} on {Environment.ProcessorCount}");
        foreach (var spec in workloads)
        {
            // "G1@1": the workload with our thread count overridden (the peer still runs at 1 and 2 threads)
            string w = spec.Split('@')[0];
            if (!Specs.TryGetValue(w, out var how))
                throw new ArgumentException($"unknown workload {w}; expected one of {string.Join(' ', Specs.Keys)}");
            var (metric, higher, threads) = (how.Metric, how.Higher, how.Threads);
            if (spec.Contains('@', StringComparison.Ordinal)) threads = int.Parse(spec.Split('@')[1], CultureInfo.InvariantCulture);
            var ours = new List<JsonElement>();
            int[] peerThreads = how.PeerAtOurThreads ? [threads] : [1, 2];
            var peers = peerThreads.ToDictionary(t => t, _ => new List<JsonElement>());
            for (int r = 0; r < runs; r++)
            {
                ours.Add(Launch(program, $"{prefix}e2e {w} --threads {threads} --data \"{mnist}\""));
                foreach (int t in peerThreads)
                    peers[t].Add(Launch("sh", $"\"{peer}\" {w} {t} \"{mnist}\""));
                Console.Error.WriteLine($"{w} run {r + 1}/{runs}: ours {Get(ours[^1], metric):G4}"
                    + (ours[^1].ValueKind == JsonValueKind.Object && ours[^1].TryGetProperty("cpu", out var c) ? $" on vCPU {c}" : "") + ", peer "
                    + string.Join(", ", peerThreads.Select(t => $"{t}t {Get(peers[t][^1], metric):G4}")));
            }
            double oursMedian = Median(ours, metric);
            int bestThreads = how.PeerAtOurThreads ? threads : higher == (Median(peers[1], metric) >= Median(peers[2], metric)) ? 1 : 2;
            string acc = how.Accuracy, bytes = how.Bytes;
            rows.Add(new Row(w == "I1" ? spec + " (Predictor)" : spec, metric, higher, w == "I1" ? 1 : threads, oursMedian,
                Median(peers[bestThreads], metric), bestThreads,
                Median(ours, bytes), Median(peers[bestThreads], bytes), Median(ours, acc), Median(peers[bestThreads], acc)));
            if (w == "I1")   // the general path, Network.Forward on a one-row workspace, from the same runs
                rows.Add(new Row(spec + " (Network.Forward)", "forward_median_us", higher, threads, Median(ours, "forward_median_us"),
                    Median(peers[bestThreads], metric), bestThreads, Median(ours, "forward_gc_bytes_per_call"), Median(peers[bestThreads], bytes),
                    Median(ours, acc), Median(peers[bestThreads], acc)));
        }
        string table = Render(rows, runs, ceiling);
        Console.WriteLine(table);
        if (outFile.Length == 0)
            Console.Error.WriteLine("not saved: a run of other workloads than the default table's prints only; --out FILE saves it");
        else
        {
            WriteHead(outFile, table);
            Console.Error.WriteLine($"saved: {outFile}");
        }
        return 0;
    }

    /// <summary>Writes <paramref name="table"/> as the head of <paramref name="outFile"/>: a file that starts with this
    /// table's title keeps everything after its old table's "Ratio:" line (bench/RESULTS.md's passes and notes); any
    /// other file is replaced. Written beside it and moved over it, so an interrupted run leaves the old file.</summary>
    internal static void WriteHead(string outFile, string table)
    {
        const string Title = "# Throughput against TorchSharp";
        string content = table;
        if (File.Exists(outFile))
        {
            string old = File.ReadAllText(outFile);
            int ratio = old.StartsWith(Title, StringComparison.Ordinal) ? old.IndexOf("\nRatio:", StringComparison.Ordinal) : -1;
            if (ratio >= 0)
            {
                int end = old.IndexOf('\n', ratio + 1);
                content += end < 0 ? "" : old[(end + 1)..];
            }
        }
        string temporary = outFile + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, outFile, overwrite: true);
    }

    private static string Render(List<Row> rows, int runs, (double OneCore, double AllCores) ceiling)
    {
        var sb = new StringBuilder();
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "unknown";
        sb.AppendLine("# Throughput against TorchSharp");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Generated by `dotnet run -c Release --project bench/Backprop.Functional.Throughput -- compare --runs {runs}` on {DateTime.UtcNow:yyyy-MM-dd}, CPU {cpu}, {Environment.ProcessorCount} cores, Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}.");
        sb.AppendLine("Medians of the runs; ours and the peer alternate, so both see the same machine load. Peer = TorchSharp 0.107 (libtorch CPU, bench/peers/torchsharp) at its better thread count (1 or 2); for L1/L2 at our thread count.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Peak = this machine's fp32 FMA ceiling measured in the same run (`… -- peak`): {ceiling.OneCore:F1} GFLOP/s on one core, {ceiling.AllCores:F1} on {Environment.ProcessorCount}.");
        sb.AppendLine();
        sb.AppendLine("| workload | metric | ours (threads) | peer (threads) | ratio | bytes/step ours | bytes/step peer | accuracy ours | accuracy peer |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            double ratio = r.HigherIsBetter ? r.Ours / r.PeerBest : r.PeerBest / r.Ours;
            double peak = r.OurThreads == 1 ? ceiling.OneCore : ceiling.AllCores;
            string extra = r.Workload.StartsWith("G1", StringComparison.Ordinal) ? $" ({r.Ours / peak:P0} of {r.OurThreads} core(s)' peak)" : "";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Workload} | {r.Metric} | {r.Ours:N1} ({r.OurThreads}) | {r.PeerBest:N1} ({r.PeerThreads}) | **{ratio:F2}×**{extra} | {r.OurBytes:N0} | {r.PeerBytes:N0} | {Acc(r.OurAccuracy)} | {Acc(r.PeerAccuracy)} |");
        }
        sb.AppendLine();
        sb.AppendLine("Ratio: ours ÷ peer for throughput, peer ÷ ours for latency (I1, L2), so above 1 means faster.");
        return sb.ToString();
    }

    private static string Acc(double a) => double.IsNaN(a) ? "–" : a.ToString("F4", CultureInfo.InvariantCulture);

    private static double Get(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;

    private static double Median(List<JsonElement> runs, string name)
    {
        var values = runs.Select(r => Get(r, name)).Where(v => !double.IsNaN(v)).Order().ToArray();
        return values.Length == 0 ? double.NaN : values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
    }

    private static JsonElement Launch(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        _ = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (line is null)
        {
            Console.Error.WriteLine($"no RESULT from {file} {arguments} (exit {p.ExitCode})");
            return default;
        }
        return JsonDocument.Parse(line[7..]).RootElement.Clone();
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Backprop.Functional.sln"))) dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}

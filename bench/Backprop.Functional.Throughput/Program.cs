using System.Globalization;
using System.Text;
using System.Text.Json;
using Backprop.Functional;
using Backprop.Functional.Throughput;

// End-to-end throughput runner. Usage:
//   e2e <W1|W2|W3|W4|I1|G1|L1|L2|L3|L4|L5|L6|K1|O1|D2> [--threads N] [--micro-shards K] [--data DIR] [--seed S]   one measurement (K: W1–W3 data-parallel), prints "RESULT {json}" like the peer
//   shapes [--append FILE]   untuned networks' step rates and GEMM efficiency over shapes > 64, as markdown
//   dp <W2|W3> [--micro-shards K] [--rounds R] [--phases-only] [--no-untimed-step]   1 thread vs 2 data-parallel workers vs 2 GEMM threads, alternating in one process
//   mp [--inputs I] [--outputs O] [--batch B] [--rounds R]   one wide dense layer: unsplit vs 2 row blocks (model parallelism) vs 2 GEMM threads
//   scaling [--rounds R] [--only NAME] [--gemms] [--pool] [--phases]   steps of >= 50 MFLOP on untuned shapes: 1 thread vs 2 GEMM threads vs 2 threads with 2 micro-shards
//   peak   the machine's fp32 FMA ceiling (1 thread, all cores; 256- and 512-bit vectors), as markdown
//   compare [--runs R] [--workloads W1,W2,...] [--data DIR] [--out FILE]   ours and TorchSharp alternately, median ratios
//     (L1 also reads L1_CPU and L1_WINDOW: RecurrentWorkloads.cs)
// MNIST: --data DIR, else the cache folder that scripts/fetch-mnist.sh (or `backprop train`) fills; this runner never downloads.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
Thread.CurrentThread.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length == 0 || args[0] is not ("e2e" or "compare" or "profile" or "shapes" or "peak" or "dp" or "mp" or "scaling"))
{
    Console.Error.WriteLine("usage: e2e <W1|W2|W3|W4|I1|G1|L1|L2|L3|L4|L5|L6|K1|O1|D2> [--threads N] [--micro-shards K] [--data DIR] [--seed S] | compare [--runs R] [--workloads W1,W2] [--data DIR] [--out FILE] | profile W | shapes [--append FILE] | peak");
    return 2;
}
string Option(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
string? dataDir = Option("--data", "") is { Length: > 0 } d ? d : null;

if (args[0] == "compare")
    return Compare.Run(int.Parse(Option("--runs", "3")), Option("--workloads", Compare.DefaultWorkloads).Split(','),
        Mnist.Require(dataDir), Option("--out", ""));

if (args[0] == "peak")
{
    Peak.Report();
    return 0;
}

if (args[0] == "shapes")
{
    Shapes.Run(Option("--append", "") is { Length: > 0 } file ? file : null);
    return 0;
}

if (args[0] == "dp")
{
    var dpRes = new Dictionary<string, object> { ["harness"] = "backprop-functional", ["workload"] = args.Length > 1 ? args[1] : "W2", ["mode"] = "dp" };
    DataParallelBench.Run(dpRes, (string)dpRes["workload"], int.Parse(Option("--micro-shards", "2")), int.Parse(Option("--rounds", "21")),
        Mnist.LoadTrain(Mnist.Require(dataDir)), args.Contains("--phases-only"),
        !args.Contains("--no-untimed-step"));
    foreach (var (key, value) in dpRes) Console.WriteLine(FormattableString.Invariant($"{key}: {value}"));
    return 0;
}

if (args[0] == "scaling")
{
    Scaling.Run(int.Parse(Option("--rounds", "9")), Option("--only", "") is { Length: > 0 } only ? only : null, args.Contains("--gemms"), args.Contains("--pool"), args.Contains("--phases"));
    return 0;
}

if (args[0] == "mp")
{
    ModelParallelBench.Run(int.Parse(Option("--inputs", "784")), int.Parse(Option("--outputs", "4096")), int.Parse(Option("--batch", "64")),
        int.Parse(Option("--rounds", "21")));
    return 0;
}

if (args[0] == "profile" && args.Length > 1 && args[1] == "L1")
{
    RecurrentWorkloads.Profile(Mnist.LoadTrain(Mnist.Require(dataDir)), int.Parse(Option("--threads", "1")));
    return 0;
}

if (args[0] == "profile" && args.Length > 1 && args[1] == "L2")
{
    RecurrentWorkloads.ProfileInference(Mnist.LoadTest(Mnist.Require(dataDir)));
    return 0;
}

if (args[0] == "profile")
{
    Profile.Run(args.Length > 1 ? args[1] : "W4", Mnist.LoadTrain(Mnist.Require(dataDir)));
    return 0;
}

string workload = args.Length > 1 ? args[1] : "W1";
int threads = int.Parse(Option("--threads", "1"));
long seed = long.Parse(Option("--seed", "1234"));
var res = new Dictionary<string, object>
{
    ["harness"] = "backprop-functional",
    ["workload"] = workload,
    ["threads"] = threads,
    ["vector512"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
};
if (workload == "G1")
    Workloads.Gemm(res, threads);
else
{
    string dir = Mnist.Require(dataDir);
    var train = Mnist.LoadTrain(dir);
    var test = Mnist.LoadTest(dir);
    if (workload == "I1") Workloads.Inference(res, train, test, seed, threads);
    else if (workload is "L1" or "L2" or "L3" or "L4" or "L5" or "L6") RecurrentWorkloads.Run(res, workload, threads, train, test, seed);
    else if (workload == "K1") CurvatureWorkloads.Run(res, threads, train);
    else if (workload == "O1") OdeWorkloads.Run(res, threads, train);
    else if (workload == "D2") ProbeWorkload.Run(res, threads, train, seed);
    else Workloads.Epoch(res, workload, threads, train, test, seed, int.Parse(Option("--micro-shards", "1")));
}
using var stream = new MemoryStream();
using (var json = new Utf8JsonWriter(stream))
{
    json.WriteStartObject();
    foreach (var (key, value) in res)
    {
        switch (value)
        {
            case string s: json.WriteString(key, s); break;
            case bool b: json.WriteBoolean(key, b); break;
            case int i: json.WriteNumber(key, i); break;
            case long l: json.WriteNumber(key, l); break;
            case double v: json.WriteNumber(key, Math.Round(v, 6)); break;
        }
    }
    json.WriteEndObject();
}
Console.WriteLine("RESULT " + Encoding.UTF8.GetString(stream.ToArray()));
return 0;

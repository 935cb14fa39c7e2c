using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop ode-demo --task mnist</c>: an ODE-Net (a dense encoder 784→H tanh, an ODE block over [0, 1]
/// with f = H→H tanh→H, a dense softmax head) and the plain dense 784→H tanh→10 trained the same way (Adam, the same
/// seed, batches and epochs) through <see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, TrainState{T})"/>;
/// test accuracy, the block's NFE per batch (<see cref="OdeBlock.Statistics{T}"/>) and the training time per epoch.
/// The same ODE-Net trains with <c>backprop train --layers</c> (its layer list is printed).</summary>
internal static class OdeMnist
{
    internal sealed record Settings(OdeGradient Gradient, int Checkpoints, OdeSolver Solver, int Hidden, double LearningRate,
        int Epochs, int Batch, int Threads, long Seed, string Output);

    internal sealed record Result(string Name, NetworkSpec Spec, long Parameters, double Accuracy, double TestLoss, double SecondsPerEpoch,
        double ForwardNfe, double BackwardNfe);

    public static int Run(Settings s, Dataset train, Dataset test, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        if (train.Features != 784 || train.Outputs != 10) throw new CliException($"{train.Name} is not MNIST-shaped (784 features, 10 classes)");
        int h = s.Hidden;
        var block = new OdeBlock(OdeFunction.Create(h, false, (h, ActivationKind.Tanh), (h, ActivationKind.Identity)), s.Solver, 0, 1, s.Gradient, s.Checkpoints);
        var odeNet = new NetworkSpec([new Dense(784, h, ActivationKind.Tanh), block, new Dense(h, 10, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var dense = new NetworkSpec([new Dense(784, h, ActivationKind.Tanh), new Dense(h, 10, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var c = CultureInfo.InvariantCulture;
        console.Line(string.Create(c,
            $"MNIST, {train.Count} training rows, {test.Count} test rows; Adam η {s.LearningRate:G}, batch {s.Batch}, {s.Epochs} epoch(s), seed {s.Seed}, {s.Threads} thread(s)"));
        console.Line($"the ODE-Net trains the same way with: backprop train --layers \"{LayerList.Format(odeNet.Layers)}\" --init pytorch --epochs {s.Epochs}");
        double gap = GradientGap(odeNet, train, s);
        console.Line(string.Create(c,
            $"at the initial θ, on the first batch: ‖g_adjoint − g_discretise‖ / ‖g_discretise‖ = {gap:0.0e+0} (float; the adjoint is another discretisation, see OdeGradient)"));
        var results = new List<Result>();
        foreach (var (name, spec) in new[] { ("ODE-Net", odeNet), ("dense", dense) })
        {
            console.Line($"{name}: {LayerList.Format(spec.Layers)}");
            results.Add(Train(name, spec, train, test, s, console));
        }
        var table = new Table().Border(TableBorder.Simple).AddColumn("model").AddColumn(new TableColumn("parameters").RightAligned())
            .AddColumn(new TableColumn("test accuracy").RightAligned()).AddColumn(new TableColumn("test loss").RightAligned())
            .AddColumn(new TableColumn("NFE fwd / batch").RightAligned()).AddColumn(new TableColumn("NFE bwd / batch").RightAligned())
            .AddColumn(new TableColumn("s / epoch").RightAligned());
        foreach (var r in results)
            table.AddRow(r.Name, r.Parameters.ToString("N0", c), r.Accuracy.ToString("P2", c), r.TestLoss.ToString("0.0000", c),
                Nfe(r.ForwardNfe), Nfe(r.BackwardNfe), r.SecondsPerEpoch.ToString("0.0", c));
        console.Write(table);
        string markdown = s.Output + "-mnist.md";
        if (Path.GetDirectoryName(Path.GetFullPath(markdown)) is { } folder) Directory.CreateDirectory(folder);
        TemporaryFiles.Replace(markdown, path => File.WriteAllText(path, Markdown(results, train, test, s)));
        console.Line($"table saved to {markdown}");
        return ExitCodes.Ok;
    }

    private static Result Train(string name, NetworkSpec spec, Dataset train, Dataset test, Settings s, IAnsiConsole console)
    {
        var c = CultureInfo.InvariantCulture;
        using var net = Network<float>.Create(spec, s.Seed);
        int batch = Math.Min(s.Batch, train.Count);
        using var state = new TrainState<float>(net, new Adam(s.LearningRate), batch, s.Threads);
        var batcher = new Batcher(train, batch, s.Seed);
        var x = new float[batch * train.Features];
        var y = new float[batch * train.Outputs];
        int odeLayer = spec.Layers.ToList().FindIndex(l => l is OdeBlock);
        long forward = 0, backward = 0, batches = 0;
        double seconds = 0;
        Evaluation? evaluation = null;
        for (int epoch = 1; epoch <= s.Epochs; epoch++)
        {
            batcher.NextEpoch();
            double cost = 0;
            var clock = Stopwatch.StartNew();
            for (int b = 0; b < batcher.BatchCount; b++)
            {
                int rows = batcher.Copy<float>(b, x, y);
                float loss;
                try
                {
                    loss = Trainer.Step(net, x.AsSpan(0, rows * train.Features), y.AsSpan(0, rows * train.Outputs), state);
                }
                catch (OdeStepLimitException e)
                {
                    throw new CliException($"{name}, epoch {epoch}, batch {b + 1}: {e.Message}");
                }
                if (!float.IsFinite(loss)) throw new CliException($"{name}, epoch {epoch}, batch {b + 1}: the batch cost became {loss}; lower --lr");
                cost += loss;
                if (odeLayer >= 0)
                {
                    var stats = OdeBlock.Statistics(spec, state.Workspace, odeLayer);
                    forward += stats.ForwardEvaluations;
                    backward += stats.BackwardEvaluations;
                }
                batches++;
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            seconds += elapsed;
            evaluation = Trainer.Evaluate(net, test);
            console.Line(string.Create(c,
                $"  {name} epoch {epoch}/{s.Epochs}: train loss {cost / batcher.BatchCount:0.0000}, test loss {evaluation.Loss:0.0000}, test accuracy {evaluation.Accuracy:P2}, {elapsed:0.0} s{(odeLayer >= 0 ? $", NFE per batch forward {(double)forward / batches:0.#} backward {(double)backward / batches:0.#}" : "")}"));
        }
        return new Result(name, spec, net.Layout.Count, evaluation!.Accuracy, evaluation.Loss, seconds / s.Epochs,
            odeLayer >= 0 ? (double)forward / batches : double.NaN, odeLayer >= 0 ? (double)backward / batches : double.NaN);
    }

    /// <summary>The two gradients of the ODE-Net at the same initial θ on the first batch, compared.</summary>
    private static double GradientGap(NetworkSpec odeNet, Dataset train, Settings s)
    {
        var block = (OdeBlock)odeNet.Layers[1];
        var gradients = new List<float[]>();
        int rows = Math.Min(s.Batch, train.Count);
        var x = train.X.AsSpan(0, rows * train.Features);
        var y = train.Y.AsSpan(0, rows * train.Outputs);
        float[] theta;
        using (var initial = Network<float>.Create(odeNet, s.Seed)) theta = initial.Parameters.ToArray();
        foreach (var kind in (OdeGradient[])[OdeGradient.Adjoint, OdeGradient.Discretise])
        {
            var spec = new NetworkSpec([odeNet.Layers[0], new OdeBlock(block.F, block.Solver, block.Start, block.End, kind, kind == OdeGradient.Adjoint ? block.Checkpoints : 0), odeNet.Layers[2]], odeNet.Loss);
            using var net = Network<float>.FromParameters(spec, theta);
            using var ws = net.CreateWorkspace(rows);
            using var g = net.CreateGradient();
            net.Forward(x, ws);
            net.Backward(x, y, ws, g.Span);
            gradients.Add(g.Span.ToArray());
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < gradients[0].Length; i++)
        {
            double d = gradients[0][i] - (double)gradients[1][i];
            diff += d * d;
            norm += (double)gradients[1][i] * gradients[1][i];
        }
        return Math.Sqrt(diff / Math.Max(norm, double.Epsilon));
    }

    private static string Nfe(double value) => double.IsNaN(value) ? "–" : value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Markdown(List<Result> results, Dataset train, Dataset test, Settings s)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(c, $"MNIST, {train.Count} training rows, {test.Count} test rows; Adam η {s.LearningRate:G}, batch {s.Batch}, {s.Epochs} epoch(s), seed {s.Seed}, {s.Threads} thread(s), float."));
        sb.AppendLine();
        sb.AppendLine("| model | layers | parameters | test accuracy | test loss | NFE forward / batch | NFE backward / batch | s / epoch |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            sb.AppendLine(string.Create(c,
                $"| {r.Name} | `{LayerList.Format(r.Spec.Layers)}` | {r.Parameters:N0} | {r.Accuracy:P2} | {r.TestLoss:0.0000} | {Nfe(r.ForwardNfe)} | {Nfe(r.BackwardNfe)} | {r.SecondsPerEpoch:0.0} |"));
        return sb.ToString();
    }
}

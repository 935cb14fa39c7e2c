using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>A random recurrent network: an optional per-step dense layer in front (so the recurrent layer's ∂C/∂x is
/// checked through its weights), one or two stacked cells of one kind, and a head on the last state (quadratic cost)
/// or at every step (softmax cross-entropy); sequences of random lengths within the batch.</summary>
public sealed record RecurrentCase(string Cell, int Inputs, int Hidden, int Outputs, int Depth, bool InputLayer, bool PerStep,
    InitialState Initial, int Batch, int Time, int[] Lengths, int Seed)
{
    public Layer MakeCell(int inputs, bool sequences) => (Cell switch
    {
        "lstm" => (Layer)new Lstm(inputs, Hidden) { ReturnSequences = sequences, InitialState = Initial },
        "gru" => new Gru(inputs, Hidden) { ReturnSequences = sequences, InitialState = Initial },
        "rnn-relu" => new Rnn(inputs, Hidden, ActivationKind.ReLU) { ReturnSequences = sequences, InitialState = Initial },
        _ => new Rnn(inputs, Hidden) { ReturnSequences = sequences, InitialState = Initial },
    });

    public NetworkSpec Spec
    {
        get
        {
            var layers = new List<Layer>();
            if (InputLayer) layers.Add(new Dense(Inputs, Inputs, ActivationKind.Tanh) { PerStep = true });
            for (int d = 0; d < Depth; d++)
                layers.Add(MakeCell(d == 0 ? Inputs : Hidden, sequences: d < Depth - 1 || PerStep));
            layers.Add(PerStep ? new Dense(Hidden, Outputs, ActivationKind.Softmax) { PerStep = true } : new Dense(Hidden, Outputs));
            return new NetworkSpec(layers, PerStep ? LossKind.SoftmaxCrossEntropy : LossKind.Quadratic);
        }
    }

    public int FirstCell => InputLayer ? 1 : 0;

    /// <summary>The network with weights scaled up (×1.5 of PyTorch's range) so the gates leave their linear region;
    /// learned initial states drawn away from zero.</summary>
    public Network<double> Network()
    {
        var net = Network<double>.Create(Spec, Seed);
        var rng = new SeededRandom(Seed + 1);
        foreach (var slot in net.Layout.Slots)
        {
            var v = slot.Of(net.Parameters);
            if (slot.Name.EndsWith("h0", StringComparison.Ordinal) || slot.Name.EndsWith("c0", StringComparison.Ordinal))
                for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble() - 0.5;
            else
                for (int i = 0; i < v.Length; i++) v[i] *= 1.5;
        }
        return net;
    }

    /// <summary>Whether x has zeros, as seq-MNIST's pixels and one-hot characters do: every third feature (from the first)
    /// is 0 in every row and step, and half of the others at random, so a panel's product skips depths.</summary>
    public bool DeadInputs { get; init; }

    /// <summary>The workspace's threads: 2 runs the recurrent steps as two row halves (and the weight gradients' halves)
    /// whenever the GEMM pool is free; tests running in parallel may hold it, and then the one-thread steps run.</summary>
    public int Threads { get; init; } = 1;

    public double[] X()
    {
        var rng = new SeededRandom(Seed + 2);
        var x = new double[Batch * Time * Inputs];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = 2 * rng.NextDouble() - 1;
            if (DeadInputs && (i % Inputs % 3 == 0 || rng.NextDouble() < 0.5)) x[i] = 0;
        }
        return x;
    }

    public double[] Y()
    {
        var rng = new SeededRandom(Seed + 3);
        int positions = PerStep ? Batch * Time : Batch;
        var y = new double[positions * Outputs];
        for (int p = 0; p < positions; p++)
            if (PerStep) y[p * Outputs + (int)(rng.NextDouble() * Outputs) % Outputs] = 1;
            else for (int o = 0; o < Outputs; o++) y[p * Outputs + o] = rng.NextDouble() - 0.5;
        return y;
    }

    public Workspace<double> Workspace(Network<double> net)
    {
        var ws = net.CreateWorkspace(Batch, Threads, Time);
        if (Lengths.Length > 0) ws.SetLengths(Lengths);
        return ws;
    }

    /// <summary>A carried h₀ (c₀) drawn into the workspace, for <see cref="InitialState.Carried"/>.</summary>
    public void SeedCarried(NetworkSpec spec, Workspace<double> ws)
    {
        if (Initial != InitialState.Carried) return;
        var rng = new SeededRandom(Seed + 4);
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            if (spec.Layers[l] is Dense) continue;
            foreach (bool cell in Cell == "lstm" ? new[] { false, true } : [false])
            {
                var s = Functional.Recurrent.InitialState(spec, ws, l, Batch, cell);
                for (int i = 0; i < s.Length; i++) s[i] = rng.NextDouble() - 0.5;
            }
        }
    }

    public override string ToString() =>
        $"{Spec}, batch {Batch}, time {Time}, lengths [{string.Join(", ", Lengths)}], initial {Initial}{(DeadInputs ? ", inputs with zeros" : "")}, seed {Seed}";
}

public static class RecurrentArbitraries
{
    public static Gen<RecurrentCase> Gen(int maxTime = 12) =>
        from cell in FsCheck.Fluent.Gen.Elements("rnn-tanh", "rnn-relu", "lstm", "gru")
        from inputs in FsCheck.Fluent.Gen.Choose(1, 4)
        from hidden in FsCheck.Fluent.Gen.Choose(1, 5)
        from outputs in FsCheck.Fluent.Gen.Choose(2, 3)
        from depth in FsCheck.Fluent.Gen.Choose(1, 2)
        from inputLayer in FsCheck.Fluent.Gen.Elements(false, true)
        from perStep in FsCheck.Fluent.Gen.Elements(false, true)
        from initial in FsCheck.Fluent.Gen.Elements(InitialState.Zero, InitialState.Learned, InitialState.Carried)
        from batch in FsCheck.Fluent.Gen.Choose(1, 3)
        from time in FsCheck.Fluent.Gen.Choose(1, maxTime)
        from differ in FsCheck.Fluent.Gen.Elements(false, true)
        from lengths in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Choose(1, time), batch)
        from seed in FsCheck.Fluent.Gen.Choose(0, 1_000_000)
        select new RecurrentCase(cell, inputs, hidden, outputs, depth, inputLayer, perStep, initial, batch, time, differ ? lengths : [], seed);

    /// <summary><see cref="Gen"/>'s cases for one <paramref name="cell"/> kind at batches of <paramref name="minBatch"/>–
    /// <paramref name="maxBatch"/> (the fused steps run from 8 rows, two threads' halves from 16), hidden 1–<paramref name="maxHidden"/>,
    /// lengths that differ within the batch or not, and, with <paramref name="dead"/>, inputs with zeros half the time.</summary>
    public static Gen<RecurrentCase> Batched(string cell, int minBatch, int maxBatch, int maxHidden, int maxTime, bool dead = false,
        int threads = 1) =>
        from c in Gen(maxTime)
        from batch in FsCheck.Fluent.Gen.Choose(minBatch, maxBatch)
        from hidden in FsCheck.Fluent.Gen.Choose(1, maxHidden)
        from differ in FsCheck.Fluent.Gen.Elements(false, true)
        from lengths in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Choose(1, c.Time), batch)
        from zeros in FsCheck.Fluent.Gen.Elements(false, dead)
        select c with { Cell = cell, Hidden = hidden, Batch = batch, Lengths = differ ? lengths : [], DeadInputs = zeros, Threads = threads };

    public static Arbitrary<RecurrentCase> RecurrentCase() => Gen().ToArbitrary();
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The LSTM's forward pass runs its fused steps at any number of rows: one or two rows go through
/// <c>LstmSteps.RowTimesPacked</c> (each row against the packed [W_ih | W_hh], the panels in alternating order, x's zeros
/// skipped), more through the micro-kernel's panels. Each gate sum is the same FMA chain either way, so a sequence's output
/// is the same bits alone, in a batch, through <see cref="Predictor{T}"/> (which keeps its packing between calls), and
/// after <see cref="Predictor{T}.Refresh"/> picks up new weights. The GRU's steps (<c>GruSteps</c>: the products of
/// xₜ and hₜ₋₁ apart, the same two kernels) and the RNN's (<c>RnnSteps</c>: one product, tanh or ReLU) likewise.</summary>
public class LstmSingleSequenceProperties
{
    /// <summary>Inputs 1–40 (with zeros, some in every row), hidden 1–40 (4H from 4 to 160: a part panel, one to five panels, four-panel
    /// groups and a tail), 1–6 steps, a batch of 9–12 (a whole panel and a part one), stacked or not, float or double.</summary>
    private static Gen<(int Inputs, int Hidden, int Time, int Batch, bool Stacked, int Seed)> Shapes =>
        from inputs in Gen.Choose(1, 40)
        from hidden in Gen.Choose(1, 40)
        from time in Gen.Choose(1, 6)
        from batch in Gen.Choose(9, 12)
        from stacked in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 10_000)
        select (inputs, hidden, time, batch, stacked, seed);

    [Property(MaxTest = 40)]
    public Property A_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_float() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<float>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "lstm"));

    [Property(MaxTest = 25)]
    public Property A_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_double() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<double>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "lstm"));

    [Property(MaxTest = 40)]
    public Property A_GRU_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_float() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<float>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "gru"));

    [Property(MaxTest = 25)]
    public Property A_GRU_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_double() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<double>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "gru"));

    [Property(MaxTest = 40)]
    public Property An_RNN_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_float() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<float>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "rnn-tanh"));

    [Property(MaxTest = 25)]
    public Property An_RNN_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_double() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<double>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "rnn-tanh"));

    [Property(MaxTest = 25)]
    public Property A_ReLU_RNN_sequence_alone_and_through_the_predictor_gives_its_batch_row_bit_for_bit_float() =>
        Prop.ForAll(Shapes.ToArbitrary(), c => Check<float>(c.Inputs, c.Hidden, c.Time, c.Batch, c.Stacked, c.Seed, cell: "rnn-relu"));

    private static void Check<T>(int inputs, int hidden, int time, int batch, bool stacked, int seed, string cell)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        Layer Cell(int i, int h, bool sequences) => cell switch
        {
            "gru" => new Gru(i, h) { ReturnSequences = sequences },
            "rnn-tanh" => new Rnn(i, h) { ReturnSequences = sequences },
            "rnn-relu" => new Rnn(i, h, ActivationKind.ReLU) { ReturnSequences = sequences },
            _ => new Lstm(i, h) { ReturnSequences = sequences },
        };
        Layer[] layers = stacked
            ? [Cell(inputs, hidden, true), Cell(hidden, 7, false), new Dense(7, 3, ActivationKind.Softmax)]
            : [Cell(inputs, hidden, false), new Dense(hidden, 3, ActivationKind.Softmax)];
        var spec = new NetworkSpec(layers, LossKind.SoftmaxCrossEntropy);
        using var net = Network<T>.Create(spec, seed, Initialization.PyTorch);
        var rng = new Random(seed);
        // a third zeros, and about half the inputs 0 in every row and step (as MNIST's border pixels): the terms the row
        // kernel skips, and those a batch's panels skip (MicroKernel.RunLive)
        var dead = new bool[inputs];
        for (int j = 0; j < inputs; j++) dead[j] = rng.Next(2) == 0;
        var x = new T[batch * time * inputs];
        for (int i = 0; i < x.Length; i++)
            x[i] = dead[i % inputs] || rng.Next(3) == 0 ? T.Zero : T.CreateTruncating(2 * rng.NextDouble() - 1);
        using var whole = net.CreateWorkspace(batch, 1, time);
        var expected = net.Forward(x, whole).ToArray();
        using var one = net.CreateWorkspace(1, 1, time);
        using var predictor = net.CreatePredictor();
        for (int r = 0; r < batch; r++)
        {
            var row = x.AsSpan(r * time * inputs, time * inputs);
            var want = expected.AsSpan(r * 3, 3).ToArray();
            Assert.Equal(want, net.Forward(row, one).ToArray());
            Assert.Equal(want, predictor.Predict(row).ToArray());
        }
    }

    /// <summary>A kept-weights flag exists for each of the workspace's layers, empty until <c>KeepWeights</c>; an index
    /// past them is refused with the range it has.</summary>
    [Fact]
    public void Kept_refuses_a_layer_the_workspace_does_not_have()
    {
        var spec = new NetworkSpec([new Lstm(5, 9), new Dense(9, 4, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 3, Initialization.PyTorch);
        using var ws = net.CreateWorkspace(1, 1, 6);
        Assert.True(ws.Kept(1).IsEmpty);
        ws.KeepWeights();
        Assert.Equal(1, ws.Kept(1).Length);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ws.Kept(ws.LayerCount));
        Assert.Contains($"layers 0 to {ws.LayerCount - 1}, not {ws.LayerCount}", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ws.Kept(-1));
    }

    private static Layer CellOf(string cell, int inputs, int hidden) => cell switch
    {
        "gru" => new Gru(inputs, hidden),
        "rnn" => new Rnn(inputs, hidden),
        _ => new Lstm(inputs, hidden),
    };

    /// <summary>The predictor packs an LSTM's, a GRU's or an RNN's weights once and keeps them: after the network's θ
    /// changes, <see cref="Predictor{T}.Refresh"/> must make them again (a stale packing would predict with the old
    /// weights).</summary>
    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("rnn")]
    public void Refresh_repacks_the_kept_weights(string cell)
    {
        var spec = new NetworkSpec([CellOf(cell, 5, 9), new Dense(9, 4, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 3, Initialization.PyTorch);
        var x = new float[6 * 5];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 7 - 3) / 4f;
        using var predictor = net.CreatePredictor();
        using var ws = net.CreateWorkspace(1, 1, 6);
        Assert.Equal(net.Forward(x, ws).ToArray(), predictor.Predict(x).ToArray());
        var before = predictor.Predict(x).ToArray();
        var theta = net.Parameters;
        for (int i = 0; i < theta.Length; i++) theta[i] = theta[i] * 1.5f + 0.01f;   // W_ih, W_hh and the biases all move
        Assert.Equal(before, predictor.Predict(x).ToArray());                         // a snapshot until Refresh
        predictor.Refresh();
        var after = predictor.Predict(x).ToArray();
        Assert.NotEqual(before, after);
        Assert.Equal(net.Forward(x, ws).ToArray(), after);
    }

    /// <summary>Step-by-step generation (one step a call, the state carried) through a workspace that keeps the packing
    /// gives the same bits as one that packs on every call, and <see cref="Workspace{T}.ForgetWeights"/> makes a changed θ
    /// take effect.</summary>
    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("rnn")]
    public void A_workspace_that_keeps_weights_steps_with_the_same_bits_and_forgets_them(string cell)
    {
        Layer recurrent = cell switch
        {
            "gru" => new Gru(6, 20) { ReturnSequences = true, InitialState = InitialState.Carried },
            "rnn" => new Rnn(6, 20) { ReturnSequences = true, InitialState = InitialState.Carried },
            _ => new Lstm(6, 20) { ReturnSequences = true, InitialState = InitialState.Carried },
        };
        var spec = new NetworkSpec([recurrent,
            new Dense(20, 6, ActivationKind.Softmax) { PerStep = true }], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 5, Initialization.PyTorch);
        using var kept = net.CreateWorkspace(1, 1, 1);
        using var plain = net.CreateWorkspace(1, 1, 1);
        kept.KeepWeights();
        Backprop.Functional.Recurrent.ResetState(spec, kept, 1);
        Backprop.Functional.Recurrent.ResetState(spec, plain, 1);
        var x = new float[6];
        for (int step = 0; step < 8; step++)
        {
            Array.Clear(x);
            x[step % 6] = 1;
            if (step == 5)
            {
                var theta = net.Parameters;
                for (int i = 0; i < theta.Length; i++) theta[i] *= 0.75f;
                kept.ForgetWeights();
            }
            Assert.Equal(net.Forward(x, plain).ToArray(), net.Forward(x, kept).ToArray());
            Backprop.Functional.Recurrent.CarryOver(spec, kept, 1);
            Backprop.Functional.Recurrent.CarryOver(spec, plain, 1);
        }
    }
}

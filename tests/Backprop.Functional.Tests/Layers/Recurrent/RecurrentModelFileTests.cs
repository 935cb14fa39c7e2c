using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>Recurrent kinds in layer lists and model files: every flag is written and read back, the loaded network
/// computes the same bits, and bad arguments are refused naming the layer.</summary>
public class RecurrentModelFileTests
{
    public static TheoryData<string> Lists => new()
    {
        "Lstm(3-5)",
        "Gru(3-5:sequences),5-2:Softmax:per-step",
        "Rnn(3-5:ReLU:sequences:learned-state),Lstm(5-4:carried-state),4-2:Identity",
        "Lstm(3-5:sequences:learned-state),Gru(5-5:sequences),Rnn(5-4:Tanh:sequences:carried-state),4-3:Softmax:per-step",
    };

    [Theory]
    [MemberData(nameof(Lists))]
    public void A_layer_list_round_trips_through_text(string list)
    {
        string text = list.Contains(',', StringComparison.Ordinal) ? list : list + ",5-2:Identity";
        Assert.True(LayerList.TryParse(text, LayerCatalog.Default, out var layers, out string error), error);
        Assert.Equal(text, LayerList.Format(layers));
    }

    [Theory]
    [MemberData(nameof(Lists))]
    public void A_recurrent_network_round_trips_through_a_model_file_bit_for_bit(string list)
    {
        string text = list.Contains(',', StringComparison.Ordinal) ? list : list + ",5-2:Identity";
        Assert.True(LayerList.TryParse(text, LayerCatalog.Default, out var layers, out string error), error);
        var spec = new NetworkSpec(layers, layers[^1].OutputActivation == ActivationKind.Softmax ? LossKind.SoftmaxCrossEntropy : LossKind.Quadratic);
        using var net = Network<double>.Create(spec, 3);
        string dir = Directory.CreateTempSubdirectory("backprop-recurrent-file-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.safetensors");
            ModelFile.Save(path, net);
            using var loaded = ModelFile.Load<double>(path).ToNetwork();
            Assert.Equal(spec, loaded.Spec);
            Assert.True(net.Parameters.SequenceEqual(loaded.Parameters));
            Assert.Equal(net.Layout.Slots.ToArray().Select(s => s.Name), loaded.Layout.Slots.ToArray().Select(s => s.Name));
            var x = new double[2 * 4 * 3];
            for (int i = 0; i < x.Length; i++) x[i] = Math.Sin(i);
            using var ws1 = net.CreateWorkspace(2, 1, 4);
            using var ws2 = loaded.CreateWorkspace(2, 1, 4);
            Assert.True(net.Forward(x, ws1).SequenceEqual(loaded.Forward(x, ws2)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("Lstm(3-0),0-2:Identity", "layer 0")]
    [InlineData("Lstm(3-5:backwards),5-2:Identity", "unknown Lstm option \"backwards\"")]
    [InlineData("Rnn(3-5:Sigmoid),5-2:Identity", "an Rnn's activation is Tanh or ReLU, not \"Sigmoid\"")]
    [InlineData("Gru(3),3-2:Identity", "inputs-hidden")]
    public void Bad_recurrent_arguments_are_refused_naming_the_layer(string text, string expected)
    {
        Assert.False(LayerList.TryParse(text, LayerCatalog.Default, out _, out string error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sequence_output_into_the_loss_needs_a_per_step_head()
    {
        var e = Assert.Throws<ArgumentException>(() => new NetworkSpec([new Lstm(3, 4) { ReturnSequences = true }], LossKind.Quadratic));
        Assert.Contains("per-step dense head", e.Message, StringComparison.Ordinal);
        var chain = Assert.Throws<ArgumentException>(() => new NetworkSpec([new Lstm(3, 4), new Dense(4, 2) { PerStep = true }], LossKind.Quadratic));
        Assert.Contains("takes [batch × time × 4] but layer 0 (Lstm) gives [batch × 4]", chain.Message, StringComparison.Ordinal);
    }
}

/// <summary>The library's own gradient check takes sequence networks (GradientCheckOptions.Time), with the five-point
/// stencil: the central difference's h² error left the GRU case 1.15·10⁻⁶ off with AVX2 off (another eˣ rounding), over
/// the 10⁻⁶ bound.</summary>
public class RecurrentGradientCheckTests
{
    [Theory]
    [InlineData("Lstm(3-4),4-2:Softmax")]
    [InlineData("Gru(3-4:sequences),4-2:Softmax:per-step")]
    [InlineData("Rnn(3-4:Tanh:learned-state),4-2:Softmax")]
    public void GradientCheck_passes_on_a_recurrent_network(string list)
    {
        Assert.True(LayerList.TryParse(list, LayerCatalog.Default, out var layers, out string error), error);
        using var net = Network<double>.Create(new NetworkSpec(layers, LossKind.SoftmaxCrossEntropy), 5);
        const int rows = 2, time = 5;
        var x = new double[rows * time * 3];
        for (int i = 0; i < x.Length; i++) x[i] = Math.Cos(3 * i);
        int positions = layers[^1].Output.IsSequence ? rows * time : rows;
        var y = new double[positions * 2];
        for (int p = 0; p < positions; p++) y[p * 2 + p % 2] = 1;
        var report = GradientCheck.Run(net, x, y, new GradientCheckOptions(Stencil: FiniteDifference.FivePoint, Time: time));
        Assert.True(report.MaxRelativeError < 1e-6, report.ToString());
        Assert.Equal(net.Layout.Count, report.ParametersChecked);
    }
}

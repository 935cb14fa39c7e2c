using System.Globalization;
using Xunit;

namespace Backprop.Functional.Tests.BadInput;

/// <summary>Sizes that come from input (layer widths, batch sizes, class counts, data-set sizes) are computed checked
/// and bounded before anything is allocated: a size past a documented limit is an <see cref="ArgumentException"/>
/// naming the size and the limit, never an <see cref="OverflowException"/> or a runaway allocation.</summary>
public sealed class SizeLimitTests
{
    /// <summary>The predictor pads the transposed first layer's rows to whole vector blocks (8 vectors): a wide input
    /// into one unit fits θ but not the padded copy, which is refused by name instead of overflowing the array size.</summary>
    [Fact]
    public void Predictor_ofFirstLayerPastOneArray_isRefusedByName()
    {
        int stride = 8 * System.Numerics.Vector<float>.Count;   // one output padded to a block
        int inputs = (int)(Array.MaxLength / stride) + 1;
        using var net = Network<float>.Create(NetworkSpec.Mlp([inputs, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic), seed: 1);
        var error = Assert.Throws<ArgumentException>(() => net.CreatePredictor());
        Assert.Contains("transposed", error.Message, StringComparison.Ordinal);
        Assert.Contains("Network.Forward", error.Message, StringComparison.Ordinal);
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void ParameterLayout_pastMaxCount_throwsNamingCountAndLimit()
    {
        // 784·3000000 overflows an int: this used to be an OverflowException.
        var e = Assert.ThrowsAny<ArgumentException>(() =>
            NetworkSpec.Mlp([784, 3_000_000, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy));

        Assert.Contains(Number((784L * 3_000_000) + 3_000_000 + (3_000_000L * 10) + 10), e.Message, StringComparison.Ordinal);
        Assert.Contains(Number(ParameterLayout.MaxCount), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParameterLayout_justPastMaxCount_refusedAndAtMaxCount_accepted()
    {
        // One layer 1 → k has 2k parameters.
        int half = ParameterLayout.MaxCount / 2;
        Assert.Equal(2 * half, ParameterLayout.For([new Dense(1, half)]).Count);
        Assert.ThrowsAny<ArgumentException>(() => ParameterLayout.For([new Dense(1, half + 1)]));
    }

    /// <summary>A single layer built outside any layout: 70000 × 70000 + 70000 = 4 900 070 000 parameters, which an
    /// int wrapped to 605 102 704; the count is exact at the largest widths.</summary>
    [Fact]
    public void Dense_ParameterCount_ofBigLayer_isExact()
    {
        Assert.Equal(4_900_070_000L, new Dense(70_000, 70_000).ParameterCount);
        Assert.Equal((long)int.MaxValue * int.MaxValue + int.MaxValue, new Dense(int.MaxValue, int.MaxValue).ParameterCount);
        Assert.Equal(7850L, new Dense(784, 10).ParameterCount);
    }

    [Fact]
    public void ParameterLayout_maxCountOfDoubles_fitsOneByteSpan()
    {
        Assert.True((long)ParameterLayout.MaxCount * sizeof(double) <= Array.MaxLength);
    }

    [Fact]
    public void Workspace_batchPastLimit_throwsNamingBatchAndLimit()
    {
        Layer[] layers = [new Dense(784, 128, ActivationKind.ReLU), new Dense(128, 10, ActivationKind.Softmax)];

        var e = Assert.ThrowsAny<ArgumentException>(() => new Workspace<float>(layers, 100_000_000));

        Assert.Contains("100000000", e.Message, StringComparison.Ordinal);
        Assert.Contains(Number(Workspace<float>.MaxElements), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_batchLargerThanTheData_trainsAsOneFullBatch()
    {
        var data = Blobs(12);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 12, Optimizer: new Sgd(0.1));
        // A workspace of 100 million rows of this network would be 3·10⁸·(30 + 2) elements: past an array, and
        // this used to be an OverflowException.
        var spec = NetworkSpec.Mlp([2, 30, 2], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var full = Network<float>.Create(spec, 3);
        using var huge = Network<float>.Create(spec, 3);

        Trainer.Fit(full, data, null, options).Complete();
        Trainer.Fit(huge, data, null, options with { BatchSize = 100_000_000 }).Complete();

        Assert.Equal(full.Parameters.ToArray(), huge.Parameters.ToArray());
    }

    [Fact]
    public void Batcher_batchOfIntMaxValue_isOneBatch()
    {
        // (count + batch − 1) overflowed to a negative number: zero batches, so Fit trained on nothing.
        Assert.Equal(1, new Batcher(Blobs(12), int.MaxValue, 0).BatchCount);
    }

    [Fact]
    public void Fit_ofIntMaxValueEpochs_startsTraining()
    {
        // The result list was sized by the epoch count up front: 2³¹ − 1 references, an OutOfMemoryException
        // before the first step. The callback stops the run after one epoch.
        using var network = Network<float>.Create(Spec, 3);
        int epochs = 0;

        Assert.Throws<OperationCanceledException>(() => Trainer.Fit(network, Blobs(12), null,
            new TrainingOptions(Epochs: int.MaxValue, BatchSize: 4),
            _ => throw new OperationCanceledException($"stopped after epoch {++epochs}")));

        Assert.Equal(1, epochs);
    }

    [Fact]
    public void Fit_emptyTrainingSet_throwsNamingIt()
    {
        var empty = Dataset.Create("empty-train", 0, 2, 2, [], []);
        using var network = Network<float>.Create(Spec, 3);

        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer.Fit(network, empty, null, new TrainingOptions(Epochs: 1)));

        Assert.Contains("empty-train", e.Message, StringComparison.Ordinal);
        Assert.Contains("no samples", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_emptyDataSet_throwsNamingIt()
    {
        var empty = Dataset.Create("empty-test", 0, 2, 2, [], []);
        using var network = Network<float>.Create(Spec, 3);

        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer.Evaluate(network, empty));

        Assert.Contains("empty-test", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OneHot_targetsPastArrayLimit_throwsArgumentNotOverflow()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Dataset.OneHot([0, 1, 2], int.MaxValue));

        Assert.Contains(Number(3L * int.MaxValue), e.Message, StringComparison.Ordinal);
    }

    private static readonly NetworkSpec Spec =
        NetworkSpec.Mlp([2, 3, 2], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    private static Dataset Blobs(int count)
    {
        var x = new float[count * 2];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 2;
            x[2 * i] = (labels[i] == 0 ? -1f : 1f) + (0.1f * i);
            x[(2 * i) + 1] = 0.05f * i;
        }
        return Dataset.Create("blobs", count, 2, 2, x, Dataset.OneHot(labels, 2), labels);
    }
}

using Xunit;

namespace Backprop.Functional.Tests.Data;

public sealed class DatasetTests
{
    [Fact]
    public void Create_xLengthMismatch_messageNamesBothShapes()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Dataset.Create("d", 10, 12, 1, new float[100], new float[10], null));

        Assert.Contains("X has 100 values but [10 × 12] needs 120", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_yLengthMismatch_messageNamesBothShapes()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Dataset.Create("d", 2, 1, 3, new float[2], new float[5], null));

        Assert.Contains("Y has 5 values but [2 × 3] needs 6", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_labelsLengthMismatch_refused()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Dataset.Create("d", 2, 1, 2, new float[2], new float[4], [0]));

        Assert.Contains("Labels has 1 values but there are 2 samples", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_nanFeature_refusedNamingDatasetSampleAndFeature()
    {
        float[] x = new float[3 * 4];
        x[(2 * 4) + 1] = float.NaN;

        var e = Assert.Throws<InvalidDataException>(() => Dataset.Create("iris", 3, 4, 1, x, new float[3], null));

        Assert.Contains("iris", e.Message, StringComparison.Ordinal);
        Assert.Contains("sample 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("feature 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_infiniteTarget_refusedNamingSampleAndTarget()
    {
        float[] y = new float[2 * 2];
        y[3] = float.PositiveInfinity;

        var e = Assert.Throws<InvalidDataException>(() => Dataset.Create("d", 2, 1, 2, new float[2], y, null));

        Assert.Contains("sample 1, target 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_labelOutOfRange_refused()
    {
        var e = Assert.Throws<InvalidDataException>(() =>
            Dataset.Create("d", 2, 1, 3, new float[2], new float[6], [0, 3]));

        Assert.Contains("sample 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("label 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Slice_middleRange_copiesRowsAndLabels()
    {
        Dataset data = Dataset.Create("d", 4, 2, 2,
            [0, 1, 10, 11, 20, 21, 30, 31], Dataset.OneHot([0, 1, 1, 0], 2), [0, 1, 1, 0]);

        Dataset slice = data.Slice(1, 2);
        slice.X[0] = -1;

        Assert.Equal((2, 2, 2), (slice.Count, slice.Features, slice.Outputs));
        Assert.Equal(new float[] { -1, 11, 20, 21 }, slice.X);
        Assert.Equal(new float[] { 0, 1, 0, 1 }, slice.Y);
        Assert.Equal(new[] { 1, 1 }, slice.Labels);
        Assert.Equal(10f, data.X[2]);
        Assert.Equal("d[1..3)", slice.Name);
    }

    [Fact]
    public void Slice_beyondEnd_throws()
    {
        Dataset data = Dataset.Create("d", 2, 1, 1, [1, 2], [1, 2]);

        Assert.Throws<ArgumentOutOfRangeException>(() => data.Slice(1, 2));
    }

    [Fact]
    public void OneHot_labels_setsOneOnePerRow()
    {
        Assert.Equal(new float[] { 0, 0, 1, 1, 0, 0 }, Dataset.OneHot([2, 0], 3));
    }

    [Fact]
    public void OneHot_labelNotBelowClasses_throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset.OneHot([3], 3));
    }
}

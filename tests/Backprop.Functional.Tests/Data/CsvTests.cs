using Xunit;

namespace Backprop.Functional.Tests.Data;

public sealed class CsvTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-csv-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Load_oneHotTargets_readsFeaturesAndInfersClasses()
    {
        string path = Write("iris.csv", "a,species,b\n1.5,2,-3\n\n0,0,4e-1\r\n2,1,5\n");

        Dataset data = Csv.Load(path, "species", CsvTargets.OneHot);

        Assert.Equal(("iris", 3, 2, 3), (data.Name, data.Count, data.Features, data.Outputs));
        Assert.Equal(new float[] { 1.5f, -3, 0, 0.4f, 2, 5 }, data.X);
        Assert.Equal(new float[] { 0, 0, 1, 1, 0, 0, 0, 1, 0 }, data.Y);
        Assert.Equal(new[] { 2, 0, 1 }, data.Labels);
    }

    [Fact]
    public void Load_oneHotWithClasses_usesGivenClassCount()
    {
        string path = Write("c.csv", "x,y\n1,0\n2,1\n");

        Dataset data = Csv.Load(path, "y", CsvTargets.OneHot, classes: 4);

        Assert.Equal(4, data.Outputs);
        Assert.Equal(new float[] { 1, 0, 0, 0, 0, 1, 0, 0 }, data.Y);
    }

    [Fact]
    public void Load_regressionTarget_readsSingleTarget()
    {
        string path = Write("houses.csv", "\"rooms\", price ,area\n3,250.5,80\n4,-1e2,100\n");

        Dataset data = Csv.Load(path, "price", CsvTargets.Regression);

        Assert.Equal((2, 2, 1), (data.Count, data.Features, data.Outputs));
        Assert.Equal(new float[] { 3, 80, 4, 100 }, data.X);
        Assert.Equal(new float[] { 250.5f, -100 }, data.Y);
        Assert.Null(data.Labels);
    }

    [Fact]
    public void Load_badNumber_namesFileLineColumnAndText()
    {
        string path = Write("bad.csv", "a,b,label\n1,2,0\n3,abc,1\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.Contains("bad.csv", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 3, column 2 'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'abc'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_semicolonSeparatedFile_refusedShowingHeader()
    {
        string path = Write("euro.csv", "a;label\n\"1,5\",0\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.Contains("label column 'label' not found", e.Message, StringComparison.Ordinal);
        Assert.Contains("a;label", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_nanText_refusedNamingLineAndColumn()
    {
        string path = Write("nan.csv", "a,label\nNaN,0\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.Contains("line 2, column 1 'a'", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a finite number", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_fractionalClassLabel_refusedNamingLabelColumn()
    {
        string path = Write("frac.csv", "a,label\n1,0\n2,1.5\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.Contains("line 3, column 2 'label'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'1.5'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_labelNotBelowClasses_refused()
    {
        string path = Write("range.csv", "a,label\n1,3\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot, classes: 3));

        Assert.Contains("line 2, column 2 'label'", e.Message, StringComparison.Ordinal);
        Assert.Contains("outside 0..2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_rowWithWrongFieldCount_refusedNamingLine()
    {
        string path = Write("ragged.csv", "a,b,label\n1,2,0\n1,2\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.Contains("line 3: has 2 fields but the header has 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_missingLabelColumn_listsColumns()
    {
        string path = Write("nolabel.csv", "a,b\n1,2\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.Regression));

        Assert.Contains("'label' not found in header (columns: a, b)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_headerOnly_refused()
    {
        string path = Write("empty.csv", "a,label\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.Regression));

        Assert.Contains("no data rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_classesForRegression_throws()
    {
        string path = Write("r.csv", "a,y\n1,2\n");

        Assert.Throws<ArgumentException>(() => Csv.Load(path, "y", CsvTargets.Regression, classes: 2));
    }

    [Theory]
    [InlineData("2147483647")]
    [InlineData("1000000000")]
    public void Load_hugeClassIndex_refusedNamingFileLineAndLimit(string label)
    {
        string path = Write("huge.csv", $"a,label\n1,0\n2,{label}\n");

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("line 3, column 2 'label'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Csv.MaxClasses.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_classIndexAtTheLimit_refusedAndJustBelow_accepted()
    {
        string below = Write("below.csv", $"a,label\n1,{Csv.MaxClasses - 1}\n");
        string at = Write("at.csv", $"a,label\n1,{Csv.MaxClasses}\n");

        Assert.Equal(Csv.MaxClasses, Csv.Load(below, "label", CsvTargets.OneHot).Outputs);
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(at, "label", CsvTargets.OneHot));
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_classesArgumentPastTheLimit_throws()
    {
        string path = Write("c.csv", "a,label\n1,0\n");

        Assert.Throws<ArgumentOutOfRangeException>(() => Csv.Load(path, "label", CsvTargets.OneHot, classes: Csv.MaxClasses + 1));
    }

    [Fact]
    public void Load_oneHotTargetsPastAnArray_refusedNamingLineOfLargestLabel()
    {
        // 32768 rows × 65536 classes = 2³¹ one-hot values, more than one array holds: refused before allocating 8 GB.
        var text = new System.Text.StringBuilder("a,label\n");
        for (int i = 0; i < 32768; i++) text.Append(i == 5 ? $"1,{Csv.MaxClasses - 1}\n" : "1,0\n");
        string path = Write("wide.csv", text.ToString());

        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, "label", CsvTargets.OneHot));

        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("line 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("32768 × 65536", e.Message, StringComparison.Ordinal);
    }
}

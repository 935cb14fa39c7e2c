using System.Globalization;
using System.Text;

namespace Backprop.Functional;

/// <summary>
/// Loads a comma-separated file with a header row into a <see cref="Dataset"/>. Every column except the label column is a
/// numeric feature (invariant culture, e.g. <c>1.5e-3</c>); blank lines are skipped; fields may be double-quoted
/// (<c>"a,b"</c>, <c>""</c> for a quote) but may not span lines.
/// <para>Threads: no shared state; files may be read from several threads at once.</para>
/// </summary>
public static class Csv
{
    /// <summary>Largest number of classes a label column may name: 65536 (class indices 0..65535).</summary>
    public const int MaxClasses = 65_536;

    /// <summary>Loads <paramref name="path"/> as a data set named after the file.</summary>
    /// <param name="path">The CSV file; its first non-blank line is the header.</param>
    /// <param name="labelColumn">Header name of the label column (exact, case-sensitive match).</param>
    /// <param name="targets">One-hot classification or a single regression target.</param>
    /// <param name="classes">For <see cref="CsvTargets.OneHot"/>: the number of classes; when <see langword="null"/>, the largest label + 1.
    /// Must be <see langword="null"/> for <see cref="CsvTargets.Regression"/>.</param>
    /// <returns>The data set: features in file column order without the label column.</returns>
    /// <exception cref="InvalidDataException">The file is empty, lacks the label column, has a row of the wrong width,
    /// or a value that is not a finite number (or, for one-hot, not a class index below <see cref="MaxClasses"/>), or the
    /// one-hot targets (rows × classes) would not fit one array; the message names file, line, column and text.</exception>
    /// <exception cref="ArgumentException"><paramref name="classes"/> is given for regression, or is less than 1 or more
    /// than <see cref="MaxClasses"/>.</exception>
    public static Dataset Load(string path, string labelColumn, CsvTargets targets, int? classes = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(labelColumn);
        if (targets is not (CsvTargets.OneHot or CsvTargets.Regression))
        {
            throw new ArgumentOutOfRangeException(nameof(targets), targets, "unknown target kind");
        }

        if (classes is not null)
        {
            if (targets == CsvTargets.Regression)
            {
                throw new ArgumentException("classes applies only to CsvTargets.OneHot", nameof(classes));
            }

            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes.Value, nameof(classes));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(classes.Value, MaxClasses, nameof(classes));
        }

        string[]? header = null;
        int labelIndex = -1;
        int features = 0;
        var x = new List<float>();
        var regression = new List<float>();
        var labels = new List<int>();
        var fields = new List<string>();
        int lineNumber = 0;
        int largestLabel = -1, largestLabelLine = 0;

        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            Split(path, lineNumber, line, fields);
            if (header is null)
            {
                header = [.. fields];
                labelIndex = FindLabel(path, lineNumber, header, labelColumn);
                features = header.Length - 1;
                if (features == 0)
                {
                    throw new InvalidDataException($"{path}: line {lineNumber}: header has only the label column '{labelColumn}'; at least one feature column is needed");
                }

                continue;
            }

            if (fields.Count != header.Length)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: line {lineNumber}: has {fields.Count} fields but the header has {header.Length}"));
            }

            for (int c = 0; c < fields.Count; c++)
            {
                string text = fields[c];
                if (c != labelIndex)
                {
                    x.Add(ParseNumber(path, lineNumber, c, header[c], text));
                }
                else if (targets == CsvTargets.Regression)
                {
                    regression.Add(ParseNumber(path, lineNumber, c, header[c], text));
                }
                else
                {
                    int label = ParseLabel(path, lineNumber, c, header[c], text, classes);
                    if (label > largestLabel)
                    {
                        (largestLabel, largestLabelLine) = (label, lineNumber);
                    }

                    labels.Add(label);
                }
            }
        }

        if (header is null)
        {
            throw new InvalidDataException($"{path}: empty file; a header row naming the columns is required");
        }

        int count = x.Count / features;
        if (count == 0)
        {
            throw new InvalidDataException($"{path}: has a header but no data rows");
        }

        string name = Path.GetFileNameWithoutExtension(path);
        if (targets == CsvTargets.Regression)
        {
            return Dataset.Create(name, count, features, 1, [.. x], [.. regression]);
        }

        int classCount = classes ?? (largestLabel + 1);
        long oneHot = (long)count * classCount;
        if (oneHot > Array.MaxLength)
        {
            string where = classes is null
                ? string.Create(CultureInfo.InvariantCulture, $"line {largestLabelLine}: label {largestLabel} makes {classCount} classes, and ")
                : "";
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {where}one-hot targets [{count} × {classCount}] would hold {oneHot} values, more than one array can ({Array.MaxLength})"));
        }

        int[] labelArray = [.. labels];
        return Dataset.Create(name, count, features, classCount, [.. x], Dataset.OneHot(labelArray, classCount), labelArray);
    }

    private static int FindLabel(string path, int lineNumber, string[] header, string labelColumn)
    {
        int found = -1;
        for (int c = 0; c < header.Length; c++)
        {
            if (string.Equals(header[c], labelColumn, StringComparison.Ordinal))
            {
                if (found >= 0)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{path}: line {lineNumber}: label column '{labelColumn}' appears twice (columns {found + 1} and {c + 1})"));
                }

                found = c;
            }
        }

        if (found < 0)
        {
            throw new InvalidDataException(
                $"{path}: line {lineNumber}: label column '{labelColumn}' not found in header (columns: {InputText.Excerpt(string.Join(", ", header))})");
        }

        return found;
    }

    private static float ParseNumber(string path, int line, int column, string columnName, string text)
    {
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
        {
            throw FieldError(path, line, column, columnName, text, "not a number");
        }

        if (!float.IsFinite(value))
        {
            throw FieldError(path, line, column, columnName, text, "not a finite number");
        }

        return value;
    }

    private static int ParseLabel(string path, int line, int column, string columnName, string text, int? classes)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int label) || label < 0)
        {
            throw FieldError(path, line, column, columnName, text, "not a class index (a whole number ≥ 0)");
        }

        if (classes is null && label >= MaxClasses)
        {
            throw FieldError(path, line, column, columnName, text,
                string.Create(CultureInfo.InvariantCulture, $"a class index past the limit of {MaxClasses} classes (0..{MaxClasses - 1}, Csv.MaxClasses)"));
        }

        if (label >= classes)
        {
            throw FieldError(path, line, column, columnName, text,
                string.Create(CultureInfo.InvariantCulture, $"class index outside 0..{classes - 1}"));
        }

        return label;
    }

    private static InvalidDataException FieldError(string path, int line, int column, string columnName, string text, string reason) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"{path}: line {line}, column {column + 1} '{InputText.Excerpt(columnName)}': '{InputText.Excerpt(text)}' is {reason}"));

    private static void Split(string path, int lineNumber, string line, List<string> fields)
    {
        fields.Clear();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            while (i < line.Length && line[i] is ' ' or '\t')
            {
                i++;
            }

            if (i < line.Length && line[i] == '"')
            {
                int start = i;
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                            $"{path}: line {lineNumber}, column {fields.Count + 1}: quote opened at character {start + 1} is not closed"));
                    }

                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    field.Append(line[i++]);
                }

                while (i < line.Length && line[i] is ' ' or '\t')
                {
                    i++;
                }

                if (i < line.Length && line[i] != ',')
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{path}: line {lineNumber}, column {fields.Count + 1}: unexpected text after closing quote at character {i + 1}"));
                }

                fields.Add(field.ToString());
            }
            else
            {
                int comma = line.IndexOf(',', i);
                int end = comma < 0 ? line.Length : comma;
                fields.Add(line[i..end].TrimEnd());
                i = end;
            }

            if (i >= line.Length)
            {
                return;
            }

            i++; // skip the comma
        }
    }
}

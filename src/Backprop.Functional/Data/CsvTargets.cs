namespace Backprop.Functional;

/// <summary>How <see cref="Csv.Load"/> turns the label column into targets.</summary>
public enum CsvTargets
{
    /// <summary>Classification: the label column holds integer class indices 0..classes−1, encoded as one-hot target rows; <see cref="Dataset.Labels"/> is set.</summary>
    OneHot,

    /// <summary>Regression: the label column holds a number used as the single target; <see cref="Dataset.Labels"/> is <see langword="null"/>.</summary>
    Regression,
}

namespace Backprop.Functional.Generators.Helpers;

/// <summary>Names of the tracked pipeline steps, read by the caching tests.</summary>
internal static class TrackingNames
{
    /// <summary>The step producing the equatable <see cref="Model.NetworkModel"/>.</summary>
    public const string Model = nameof(Model);
}

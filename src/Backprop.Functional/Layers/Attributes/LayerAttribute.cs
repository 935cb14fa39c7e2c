namespace Backprop.Functional;

/// <summary>The base of the layer attributes of a generated network (see <see cref="NetworkAttribute"/>): the generator
/// reads every attribute deriving from it, in declaration order. It emits <see cref="DenseAttribute"/> layers and, before
/// them, the recurrent <see cref="RnnAttribute"/>, <see cref="LstmAttribute"/> and <see cref="GruAttribute"/>; a layer
/// kind of another attribute is reported as BPF007 (build such a network at run time with <see cref="NetworkSpec"/>).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public abstract class LayerAttribute : Attribute
{
}

using System.Text;

namespace MeatLizard.Tools.TestModel;

/// <summary>The value types of GGUF metadata (gguf.h, enum gguf_type).</summary>
public enum GgufType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>The tensor element types this tool writes (ggml.h, enum ggml_type).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
}

/// <summary>A metadata value: a scalar, a string, or an array of one element type.</summary>
public sealed record GgufValue(GgufType Type, object Value, GgufType ElementType = GgufType.UInt8)
{
    public static GgufValue Of(uint value) => new(GgufType.UInt32, value);

    public static GgufValue Of(float value) => new(GgufType.Float32, value);

    public static GgufValue Of(string value) => new(GgufType.String, value);
}

/// <summary>A tensor to write: its name, its shape (ggml order: the innermost dimension first) and its elements.</summary>
public sealed record GgufTensor(string Name, ulong[] Shape, GgmlType Type, float[] Data)
{
    public ulong ByteCount => (ulong)Data.Length * (Type == GgmlType.F32 ? 4UL : 2UL);
}

/// <summary>
/// Reads and writes GGUF v3 (ggml/include/gguf.h, docs in the llama.cpp source): little-endian; header "GGUF", version,
/// tensor count, metadata count; metadata as (key, type, value); tensor infos as (name, dims, type, offset); tensor data
/// aligned to general.alignment (32 by default) from the start of the data section.
/// </summary>
public static class Gguf
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint
    public const uint Version = 3;
    public const int Alignment = 32;

    /// <summary>The metadata of a GGUF file, in file order (tensors are not read).</summary>
    public static List<KeyValuePair<string, GgufValue>> ReadMetadata(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        if (reader.ReadUInt32() != Magic)
        {
            throw new InvalidDataException($"{path} is not a GGUF file (bad magic).");
        }

        var version = reader.ReadUInt32();
        if (version is < 2 or > 3)
        {
            throw new InvalidDataException($"{path} is GGUF version {version}; this tool reads versions 2 and 3.");
        }

        _ = reader.ReadUInt64(); // tensor count
        var count = reader.ReadUInt64();
        var metadata = new List<KeyValuePair<string, GgufValue>>();
        for (ulong i = 0; i < count; i++)
        {
            var key = ReadString(reader);
            var type = (GgufType)reader.ReadUInt32();
            metadata.Add(new(key, ReadValue(reader, type)));
        }

        return metadata;
    }

    public static void Write(string path, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata,
        IReadOnlyList<GgufTensor> tensors)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((ulong)tensors.Count);
        writer.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(writer, key);
            writer.Write((uint)value.Type);
            WriteValue(writer, value);
        }

        ulong offset = 0;
        foreach (var tensor in tensors)
        {
            WriteString(writer, tensor.Name);
            writer.Write((uint)tensor.Shape.Length);
            foreach (var dimension in tensor.Shape)
            {
                writer.Write(dimension);
            }

            writer.Write((uint)tensor.Type);
            writer.Write(offset);
            offset = AlignUp(offset + tensor.ByteCount);
        }

        Pad(writer);
        foreach (var tensor in tensors)
        {
            foreach (var element in tensor.Data)
            {
                if (tensor.Type == GgmlType.F32)
                {
                    writer.Write(element);
                }
                else
                {
                    writer.Write((Half)element);
                }
            }

            Pad(writer);
        }
    }

    private static ulong AlignUp(ulong value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter writer)
    {
        var position = (ulong)writer.BaseStream.Position;
        writer.Write(new byte[(int)(AlignUp(position) - position)]);
    }

    private static string ReadString(BinaryReader reader)
    {
        var length = reader.ReadUInt64();
        return Encoding.UTF8.GetString(reader.ReadBytes(checked((int)length)));
    }

    private static void WriteString(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    private static GgufValue ReadValue(BinaryReader reader, GgufType type)
    {
        if (type != GgufType.Array)
        {
            return new GgufValue(type, ReadScalar(reader, type));
        }

        var elementType = (GgufType)reader.ReadUInt32();
        var length = checked((int)reader.ReadUInt64());
        var items = new object[length];
        for (var i = 0; i < length; i++)
        {
            items[i] = ReadScalar(reader, elementType);
        }

        return new GgufValue(GgufType.Array, items, elementType);
    }

    private static object ReadScalar(BinaryReader reader, GgufType type) => type switch
    {
        GgufType.UInt8 => reader.ReadByte(),
        GgufType.Int8 => reader.ReadSByte(),
        GgufType.UInt16 => reader.ReadUInt16(),
        GgufType.Int16 => reader.ReadInt16(),
        GgufType.UInt32 => reader.ReadUInt32(),
        GgufType.Int32 => reader.ReadInt32(),
        GgufType.Float32 => reader.ReadSingle(),
        GgufType.Bool => reader.ReadByte() != 0,
        GgufType.String => ReadString(reader),
        GgufType.UInt64 => reader.ReadUInt64(),
        GgufType.Int64 => reader.ReadInt64(),
        GgufType.Float64 => reader.ReadDouble(),
        _ => throw new InvalidDataException($"Unknown GGUF value type {(uint)type}."),
    };

    private static void WriteValue(BinaryWriter writer, GgufValue value)
    {
        if (value.Type != GgufType.Array)
        {
            WriteScalar(writer, value.Type, value.Value);
            return;
        }

        var items = (object[])value.Value;
        writer.Write((uint)value.ElementType);
        writer.Write((ulong)items.Length);
        foreach (var item in items)
        {
            WriteScalar(writer, value.ElementType, item);
        }
    }

    private static void WriteScalar(BinaryWriter writer, GgufType type, object value)
    {
        switch (type)
        {
            case GgufType.UInt8: writer.Write((byte)value); break;
            case GgufType.Int8: writer.Write((sbyte)value); break;
            case GgufType.UInt16: writer.Write((ushort)value); break;
            case GgufType.Int16: writer.Write((short)value); break;
            case GgufType.UInt32: writer.Write((uint)value); break;
            case GgufType.Int32: writer.Write((int)value); break;
            case GgufType.Float32: writer.Write((float)value); break;
            case GgufType.Bool: writer.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufType.String: WriteString(writer, (string)value); break;
            case GgufType.UInt64: writer.Write((ulong)value); break;
            case GgufType.Int64: writer.Write((long)value); break;
            case GgufType.Float64: writer.Write((double)value); break;
            default: throw new InvalidDataException($"Cannot write GGUF value type {(uint)type}.");
        }
    }
}

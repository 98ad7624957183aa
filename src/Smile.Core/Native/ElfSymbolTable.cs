using System.Text;

namespace Smile.Native;

/// <summary>
/// Reads symbol values from the full symbol table (<c>.symtab</c>) of an ELF64 little-endian shared object on disk: the
/// table that also lists a library's local (not exported) objects, which <c>dlsym</c> cannot find. Used for one
/// oneDNN object inside LibTorch (<see cref="OneDnnCacheSizes"/>).
/// </summary>
internal static class ElfSymbolTable
{
    private const uint SymbolTableSection = 2; // SHT_SYMTAB

    /// <summary>The value (for a shared object: the offset from its load address) of each of <paramref name="names"/>
    /// found in <paramref name="path"/>'s <c>.symtab</c>; names not found are absent. Empty for a file that is not an
    /// ELF64 little-endian object or has no such table (a stripped library).</summary>
    public static IReadOnlyDictionary<string, long> Find(string path, IReadOnlyCollection<string> names)
    {
        var found = new Dictionary<string, long>();
        using var file = File.OpenRead(path);
        using var reader = new BinaryReader(file);
        var ident = reader.ReadBytes(6);
        if (ident.Length < 6 || ident[0] != 0x7F || ident[1] != 'E' || ident[2] != 'L' || ident[3] != 'F' || ident[4] != 2 || ident[5] != 1)
            return found;
        file.Position = 0x28;
        long sectionHeaders = reader.ReadInt64();
        file.Position = 0x3A;
        int headerSize = reader.ReadUInt16(), sectionCount = reader.ReadUInt16();
        var wanted = names.ToDictionary(n => n, n => Encoding.ASCII.GetBytes(n));
        for (int i = 0; i < sectionCount; i++)
        {
            file.Position = sectionHeaders + (long)i * headerSize + 4;
            if (reader.ReadUInt32() != SymbolTableSection) continue;
            file.Position = sectionHeaders + (long)i * headerSize + 0x18;
            long tableOffset = reader.ReadInt64(), tableSize = reader.ReadInt64();
            uint stringSection = reader.ReadUInt32();
            file.Position = sectionHeaders + stringSection * (long)headerSize + 0x18;
            long stringsOffset = reader.ReadInt64(), stringsSize = reader.ReadInt64();
            file.Position = stringsOffset;
            var strings = reader.ReadBytes(checked((int)stringsSize));
            file.Position = tableOffset;
            var symbols = reader.ReadBytes(checked((int)tableSize));
            for (int s = 0; s + 24 <= symbols.Length; s += 24) // Elf64_Sym: name(4) info(1) other(1) shndx(2) value(8) size(8)
            {
                int nameAt = BitConverter.ToInt32(symbols, s);
                foreach (var (name, bytes) in wanted)
                {
                    if (nameAt + bytes.Length >= strings.Length || strings[nameAt + bytes.Length] != 0
                        || !strings.AsSpan(nameAt, bytes.Length).SequenceEqual(bytes)) continue;
                    found[name] = BitConverter.ToInt64(symbols, s + 8);
                }
            }
        }
        return found;
    }
}

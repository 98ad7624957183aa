using System.IO.MemoryMappedFiles;
using System.Text;

namespace Smile.Native;

/// <summary>
/// Reads symbol values from the full symbol table (<c>.symtab</c>) of an ELF64 little-endian shared object on disk: the
/// table that also lists a library's local (not exported) objects, which <c>dlsym</c> cannot find. Used for one
/// oneDNN object inside LibTorch (<see cref="OneDnnCacheSizes"/>). The file is mapped, not read into memory:
/// LibTorch's tables are about 90 MB.
/// </summary>
internal static class ElfSymbolTable
{
    private const uint SymbolTableSection = 2; // SHT_SYMTAB
    private const int SymbolSize = 24; // Elf64_Sym: name(4) info(1) other(1) shndx(2) value(8) size(8)

    /// <summary>The value (for a shared object: the offset from its load address) of each of <paramref name="names"/>
    /// found in <paramref name="path"/>'s <c>.symtab</c>; names not found are absent. Empty for a file that is not an
    /// ELF64 little-endian object or has no such table (a stripped library).</summary>
    public static unsafe IReadOnlyDictionary<string, long> Find(string path, IReadOnlyCollection<string> names)
    {
        var found = new Dictionary<string, long>();
        long length = new FileInfo(path).Length;
        if (length < 0x40) return found;
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* file = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref file);
        try
        {
            file += view.PointerOffset;
            if (file[0] != 0x7F || file[1] != 'E' || file[2] != 'L' || file[3] != 'F' || file[4] != 2 || file[5] != 1) return found;
            long sectionHeaders = *(long*)(file + 0x28);
            int headerSize = *(ushort*)(file + 0x3A), sectionCount = *(ushort*)(file + 0x3C);
            if (sectionHeaders <= 0 || sectionHeaders + (long)sectionCount * headerSize > length) return found;
            var wanted = names.Select(n => (Name: n, Bytes: Encoding.ASCII.GetBytes(n))).ToList();
            for (int i = 0; i < sectionCount; i++)
            {
                byte* section = file + sectionHeaders + (long)i * headerSize;
                if (*(uint*)(section + 4) != SymbolTableSection) continue;
                long tableOffset = *(long*)(section + 0x18), tableSize = *(long*)(section + 0x20);
                uint stringSection = *(uint*)(section + 0x28);
                if (stringSection >= sectionCount) continue;
                byte* strings = file + sectionHeaders + (long)stringSection * headerSize;
                long stringsOffset = *(long*)(strings + 0x18), stringsSize = *(long*)(strings + 0x20);
                if (tableOffset + tableSize > length || stringsOffset + stringsSize > length) continue;
                for (long s = 0; s + SymbolSize <= tableSize; s += SymbolSize)
                {
                    byte* symbol = file + tableOffset + s;
                    long nameAt = *(uint*)symbol;
                    foreach (var (name, bytes) in wanted)
                    {
                        if (nameAt + bytes.Length >= stringsSize) continue;
                        var candidate = new ReadOnlySpan<byte>(file + stringsOffset + nameAt, bytes.Length + 1);
                        if (candidate[bytes.Length] == 0 && candidate[..bytes.Length].SequenceEqual(bytes))
                            found[name] = *(long*)(symbol + 8);
                    }
                }
            }
            return found;
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }
}

// MSBuild inline task (see LibTorchSharpGlibcxxFix.targets): marks the GLIBCXX_3.4.32 version
// requirement of libLibTorchSharp.so weak, so that GCC 12's libstdc++ (Debian 12) accepts it.
// Self-contained on purpose: an inline task cannot reference the project's own code.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class SmileWeakenGlibcxxRequirement : Task
{
    const string Version = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    [Required] public string Directory { get; set; } = "";
    [Required] public string Mode { get; set; } = "auto";

    public override bool Execute()
    {
        if (!System.IO.Directory.Exists(Directory)) return true;
        if (Mode == "auto" && SystemHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, $"System libstdc++ provides {Version}: LibTorchSharp left as shipped.");
            return true;
        }
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            try
            {
                var bytes = File.ReadAllBytes(file);
                int changed = Weaken(bytes);
                if (changed < 0)
                {
                    Log.LogMessage(MessageImportance.Low, $"{file}: no {Version} requirement, nothing to do.");
                    continue;
                }
                if (changed == 0) continue; // already weak
                // Write beside and rename: never writes through a hard link into the NuGet cache.
                string tmp = file + ".smile-tmp";
                File.Copy(file, tmp, true); // a fresh file that keeps the permissions
                using (var stream = new FileStream(tmp, FileMode.Open, FileAccess.Write)) stream.Write(bytes, 0, bytes.Length);
                File.Delete(file);
                File.Move(tmp, file);
                Log.LogMessage(MessageImportance.Normal, $"{file}: {Version} requirement marked weak (loads on older libstdc++).");
            }
            catch (Exception e)
            {
                Log.LogWarning($"{file}: could not patch the {Version} requirement: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemHasVersion()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        var needle = Encoding.ASCII.GetBytes(Version + "\0");
        foreach (var path in candidates)
        {
            if (!File.Exists(path)) continue;
            var data = File.ReadAllBytes(path);
            return IndexOf(data, needle) >= 0;
        }
        return false; // no libstdc++ found where expected: patching is harmless (weak only relaxes a check)
    }

    static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>Returns -1 if the requirement is absent, 0 if already weak, 1 if it was weakened.</summary>
    static int Weaken(byte[] b)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = (long)BitConverter.ToUInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A);
        int shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(b, (int)sh + 24);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 40);
            int count = (int)BitConverter.ToUInt32(b, (int)sh + 44);
            long strtab = (long)BitConverter.ToUInt64(b, (int)(shoff + (long)link * shentsize) + 24);
            long vn = offset;
            for (int n = 0; n < count; n++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long nameOff = strtab + BitConverter.ToUInt32(b, (int)aux + 8);
                    if (NameIs(b, nameOff, Version))
                    {
                        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0) return 0;
                        flags |= VerFlgWeak;
                        b[aux + 4] = (byte)(flags & 0xff);
                        b[aux + 5] = (byte)(flags >> 8);
                        return 1;
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        return -1;
    }

    static bool NameIs(byte[] b, long at, string name)
    {
        for (int i = 0; i < name.Length; i++)
            if (at + i >= b.Length || b[at + i] != (byte)name[i]) return false;
        return at + name.Length < b.Length && b[at + name.Length] == 0;
    }
}

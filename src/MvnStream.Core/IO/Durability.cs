using System.Runtime.InteropServices;

namespace MvnStream.Core.IO;

/// <summary>
/// Durable replacement of a file: after the temporary file is flushed to disk and renamed over the destination,
/// the rename itself is made durable by an fsync of the directory that holds it (POSIX: a rename is a change
/// of the directory, which fsync of the file does not cover; after a power loss the old file could come back).
/// </summary>
public static partial class Durability
{
    private const int ReadOnly = 0;           // O_RDONLY
    private const int DirectoryFlag = 0x10000; // O_DIRECTORY on Linux (x86_64 and arm64)

    /// <summary>
    /// fsyncs <paramref name="directory"/> on Linux; elsewhere (Windows has no directory handles to sync; macOS
    /// would need F_FULLFSYNC) it does nothing.
    /// </summary>
    /// <exception cref="IOException">The directory could not be opened or synced (errno named).</exception>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = Open(directory, ReadOnly | DirectoryFlag);
        if (fd < 0)
            throw new IOException($"cannot open directory '{directory}' to sync a rename in it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0)
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally { _ = Close(fd); }
    }

    /// <summary>
    /// Replaces <paramref name="path"/> atomically and durably with what <paramref name="write"/> writes: into a
    /// temporary file of its own in the same directory (".NAME.GUID.tmp": concurrent writers never share one), flushed
    /// to disk, renamed over <paramref name="path"/>, and the rename synced (<see cref="SyncDirectory"/>). When
    /// <paramref name="write"/> returns false (abandoned, e.g. cancelled) or throws, the temporary file is deleted and
    /// <paramref name="path"/> is left as it was. The directory must exist.
    /// </summary>
    /// <returns>Whether the file was replaced.</returns>
    public static bool ReplaceFile(string path, Func<Stream, bool> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                if (!write(f)) return false;
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { } // gone after the rename
        }
        SyncDirectory(dir);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

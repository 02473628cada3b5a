using MvnStream.Core.IO;

namespace MvnStream.Core.Tests.IO;

public sealed class DurabilityTests
{
    [Fact]
    public void Syncing_an_existing_directory_succeeds()
    {
        var dir = Directory.CreateTempSubdirectory("mvnstream-sync-").FullName;
        try { Durability.SyncDirectory(dir); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Syncing_a_missing_directory_or_a_file_fails_naming_it()
    {
        if (!OperatingSystem.IsLinux()) return; // a no-op elsewhere, by contract
        var missing = Path.Combine(Path.GetTempPath(), "mvnstream-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<IOException>(() => Durability.SyncDirectory(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);

        var file = Path.GetTempFileName();
        try
        {
            // O_DIRECTORY refuses a regular file (ENOTDIR): the call really opens what it is given as a directory.
            var f = Assert.Throws<IOException>(() => Durability.SyncDirectory(file));
            Assert.Contains("errno 20", f.Message, StringComparison.Ordinal);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void ReplaceFile_replaces_whole_or_not_at_all_and_leaves_no_temporary_file()
    {
        var dir = Directory.CreateTempSubdirectory("mvnstream-replace-").FullName;
        try
        {
            var path = Path.Combine(dir, "model.json");
            File.WriteAllText(path, "old");

            Assert.True(Durability.ReplaceFile(path, f => { f.Write("new"u8); return true; }));
            Assert.Equal("new", File.ReadAllText(path));

            // Abandoned half-way (Ctrl-C): the old content stays.
            Assert.False(Durability.ReplaceFile(path, f => { f.Write("half"u8); return false; }));
            Assert.Equal("new", File.ReadAllText(path));

            // The writer throws: the old content stays and the exception is the caller's.
            Assert.Throws<InvalidOperationException>(() => Durability.ReplaceFile(path, f => { f.Write("broken"u8); throw new InvalidOperationException("boom"); }));
            Assert.Equal("new", File.ReadAllText(path));

            Assert.Equal(["model.json"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

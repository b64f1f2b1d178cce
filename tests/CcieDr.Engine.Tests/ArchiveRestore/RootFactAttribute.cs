using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// A fact that only applies when the test process runs as root (ownership is only restored by root, as on
/// the Services box). As any other user the case is reported as skipped with the reason, never as passed.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!IsRoot)
        {
            Skip = "restoring owners needs root (CI and the Services box run restores as root)";
        }
    }

    internal static bool IsRoot => RestoreTestKit.Run("id", "-u").Out.Trim() == "0";
}

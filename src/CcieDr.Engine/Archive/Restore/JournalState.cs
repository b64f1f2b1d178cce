namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>Step a restore had reached when its journal was last written.</summary>
    public enum JournalState
    {
        /// <summary>Extracting into the staging directory; nothing in the data directory has moved.</summary>
        Staging,

        /// <summary>Staged and verified; the swap lists are recorded; nothing has moved yet.</summary>
        Staged,

        /// <summary>Moving the existing entries into the move-aside folder.</summary>
        MovingAside,

        /// <summary>Every existing entry is aside; moving the staged entries into place.</summary>
        MovingIn,

        /// <summary>The new data is in place; only clean-up remains.</summary>
        Done,
    }

    /// <summary>How to finish an interrupted restore.</summary>
    public enum RecoveryMode
    {
        /// <summary>Forward when the archive was fully staged and verified, else back.</summary>
        Auto,

        /// <summary>Complete the swap (only possible once staging finished).</summary>
        RollForward,

        /// <summary>Put the old data back and discard the staged data.</summary>
        RollBack,
    }
}

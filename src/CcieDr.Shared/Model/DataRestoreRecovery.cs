namespace CcieDr
{
    /// <summary>What <c>Restore-CcieData -Recover</c> did with an interrupted restore (PSTypeName <c>CcieDr.DataRestoreRecovery</c>).</summary>
    public sealed class DataRestoreRecovery
    {
        internal DataRestoreRecovery(string path, string source, string foundState, string action, string? movedAsideTo, string message)
        {
            Path = path;
            Source = source;
            FoundState = foundState;
            Action = action;
            MovedAsideTo = movedAsideTo;
            Message = message;
        }

        /// <summary>Data directory.</summary>
        public string Path { get; }

        /// <summary>Archive the interrupted restore was restoring.</summary>
        public string Source { get; }

        /// <summary>Step the journal recorded: staging, staged, moving-aside, moving-in or done.</summary>
        public string FoundState { get; }

        /// <summary>RollForward (the restored data is in place) or RollBack (the previous data is in place).</summary>
        public string Action { get; }

        /// <summary>Where the previous data is after a roll-forward.</summary>
        public string? MovedAsideTo { get; }

        /// <summary>One line for logs.</summary>
        public string Message { get; }
    }
}

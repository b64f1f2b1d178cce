namespace CcieDr.Engine.Operations
{
    /// <summary>Progress of one activity. Ids nest: a child names its parent.</summary>
    public sealed class ProgressUpdate
    {
        public ProgressUpdate(int activityId, string activity, string status, int? percentComplete = null, int parentActivityId = -1, bool completed = false)
        {
            ActivityId = activityId;
            Activity = activity;
            Status = status;
            PercentComplete = percentComplete;
            ParentActivityId = parentActivityId;
            Completed = completed;
        }

        public int ActivityId { get; }

        public int ParentActivityId { get; }

        public string Activity { get; }

        public string Status { get; }

        /// <summary>0-100 when the total is known, else null.</summary>
        public int? PercentComplete { get; }

        public bool Completed { get; }
    }

    /// <summary>
    /// How the engine tells its caller what is happening. The cmdlet layer forwards these to the
    /// progress, verbose and warning streams on the pipeline thread. Never pass secrets.
    /// </summary>
    public interface IOperationReporter
    {
        void Progress(ProgressUpdate update);

        void Verbose(string message);

        void Warning(string message);
    }

    /// <summary>A reporter that drops everything (tests, nested calls).</summary>
    public sealed class NullReporter : IOperationReporter
    {
        public static readonly NullReporter Instance = new NullReporter();

        public void Progress(ProgressUpdate update)
        {
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }
    }
}

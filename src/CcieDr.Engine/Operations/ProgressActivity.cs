using System;
using System.Threading;

namespace CcieDr.Engine.Operations
{
    /// <summary>
    /// One progress bar: a constant activity id, percent only when the total is known, and a
    /// Completed record always sent on Dispose (use it in a using block).
    /// </summary>
    public sealed class ProgressActivity : IDisposable
    {
        private static int _nextId = 1000;
        private readonly IOperationReporter _reporter;
        private string _status;
        private int _disposed;

        public ProgressActivity(IOperationReporter reporter, string activity, string status, ProgressActivity? parent = null)
        {
            _reporter = reporter ?? NullReporter.Instance;
            Activity = activity;
            _status = status;
            Id = Interlocked.Increment(ref _nextId);
            ParentId = parent?.Id ?? -1;
            _reporter.Progress(new ProgressUpdate(Id, Activity, _status, null, ParentId));
        }

        public int Id { get; }

        public int ParentId { get; }

        public string Activity { get; }

        public void Update(string status, int? percentComplete = null)
        {
            _status = status;
            int? percent = percentComplete is null ? null : Math.Max(0, Math.Min(100, percentComplete.Value));
            _reporter.Progress(new ProgressUpdate(Id, Activity, status, percent, ParentId));
        }

        public void Update(string status, long done, long total)
            => Update(status, total > 0 ? (int)(done * 100 / total) : (int?)null);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _reporter.Progress(new ProgressUpdate(Id, Activity, _status, 100, ParentId, completed: true));
            }
        }
    }
}

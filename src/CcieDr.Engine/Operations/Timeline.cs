using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace CcieDr.Engine.Operations
{
    /// <summary>Records the steps of a long operation with start and end times (RTO is measured, not guessed).</summary>
    public sealed class Timeline
    {
        private readonly List<TimelineEntry> _entries = new List<TimelineEntry>();
        private readonly Func<DateTime> _clock;
        private readonly object _gate = new object();

        public Timeline(Func<DateTime>? clock = null)
        {
            _clock = clock ?? (() => DateTime.UtcNow);
            Started = _clock();
        }

        public DateTime Started { get; }

        public IReadOnlyList<TimelineEntry> Entries
        {
            get
            {
                lock (_gate)
                {
                    return _entries.ToArray();
                }
            }
        }

        /// <summary>Starts a step; finish it with <see cref="Complete"/> or <see cref="Fail"/>.</summary>
        public TimelineEntry Begin(string action, string? target = null)
        {
            lock (_gate)
            {
                var entry = new TimelineEntry { Step = _entries.Count + 1, Action = action, Target = target, Started = _clock() };
                _entries.Add(entry);
                return entry;
            }
        }

        public void Complete(TimelineEntry entry, string outcome = "Succeeded", string? target = null, string? detail = null)
        {
            if (entry is null)
            {
                throw new ArgumentNullException(nameof(entry));
            }

            entry.Ended = _clock();
            entry.Outcome = outcome;
            entry.Target = target ?? entry.Target;
            entry.Detail = detail ?? entry.Detail;
        }

        public void Fail(TimelineEntry entry, Exception error)
        {
            if (entry is null)
            {
                throw new ArgumentNullException(nameof(entry));
            }

            entry.Ended = _clock();
            entry.Outcome = "Failed";
            entry.Detail = error?.Message;
        }

        /// <summary>Runs <paramref name="step"/> as one timeline entry; failures are recorded and rethrown.</summary>
        public async Task<T> RunAsync<T>(string action, string? target, Func<TimelineEntry, Task<T>> step)
        {
            if (step is null)
            {
                throw new ArgumentNullException(nameof(step));
            }

            TimelineEntry entry = Begin(action, target);
            try
            {
                T result = await step(entry).ConfigureAwait(false);
                if (entry.Ended is null)
                {
                    Complete(entry);
                }

                return result;
            }
            catch (Exception e)
            {
                Fail(entry, e);
                throw;
            }
        }

        public Task RunAsync(string action, string? target, Func<TimelineEntry, Task> step)
            => RunAsync<bool>(action, target, async e =>
            {
                await step(e).ConfigureAwait(false);
                return true;
            });
    }
}

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine;
using CcieDr.Engine.Operations;

namespace CcieDr.Commands
{
    /// <summary>
    /// Base for every CcieDr cmdlet. Async work runs off the pipeline thread; output, errors, progress,
    /// verbose/warning text and ShouldProcess are marshalled back to the pipeline thread, which pumps them
    /// while the work runs. Ctrl+C (StopProcessing) cancels the token the work is given, which every AWS
    /// call and wait receives.
    /// </summary>
    public abstract class CcieAsyncCmdlet : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private BlockingCollection<Action>? _pump;
        private int _pipelineThreadId;
        private bool _disposed;

        /// <summary>An engine reporter that forwards to this cmdlet's streams.</summary>
        protected IOperationReporter Reporter => new CmdletReporter(this);

        protected sealed override void BeginProcessing()
        {
            ModuleFormats.EnsureLoaded(this);
            Pump(BeginProcessingAsync);
        }

        protected sealed override void ProcessRecord() => Pump(ProcessRecordAsync);

        protected sealed override void EndProcessing() => Pump(EndProcessingAsync);

        protected override void StopProcessing() => _stop.Cancel();

        protected virtual Task BeginProcessingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        protected virtual Task ProcessRecordAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        protected virtual Task EndProcessingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        // ---- marshalled stream writers (callable from any thread) ----

        protected new void WriteObject(object? sendToPipeline) => OnPipeline(() => base.WriteObject(sendToPipeline));

        protected new void WriteObject(object? sendToPipeline, bool enumerateCollection) => OnPipeline(() => base.WriteObject(sendToPipeline, enumerateCollection));

        protected new void WriteError(ErrorRecord errorRecord) => OnPipeline(() => base.WriteError(errorRecord));

        protected new void WriteVerbose(string text) => OnPipeline(() => base.WriteVerbose(text));

        protected new void WriteWarning(string text) => OnPipeline(() => base.WriteWarning(text));

        protected new void WriteProgress(ProgressRecord progressRecord) => OnPipeline(() => base.WriteProgress(progressRecord));

        /// <summary>ShouldProcess asked on the pipeline thread, awaited from async code.</summary>
        protected Task<bool> ShouldProcessAsync(string target, string action) => OnPipelineAsync(() => ShouldProcess(target, action));

        /// <summary>ShouldProcess with a full multi-line description (a plan) shown by -WhatIf.</summary>
        protected Task<bool> ShouldProcessAsync(string verboseDescription, string verboseWarning, string caption)
            => OnPipelineAsync(() => ShouldProcess(verboseDescription, verboseWarning, caption));

        /// <summary>
        /// ShouldProcess where -Force only skips the confirmation prompt: -WhatIf (bound or from
        /// $WhatIfPreference) and an explicit -Confirm are always honoured, so -Force -WhatIf changes nothing.
        /// </summary>
        protected Task<bool> ShouldProcessForceAsync(bool force, string target, string action)
            => OnPipelineAsync(() => (force && !WhatIfRequested() && !MyInvocation.BoundParameters.ContainsKey("Confirm")) || ShouldProcess(target, action));

        /// <inheritdoc cref="ShouldProcessForceAsync(bool, string, string)"/>
        protected Task<bool> ShouldProcessForceAsync(bool force, string verboseDescription, string verboseWarning, string caption)
            => OnPipelineAsync(() => (force && !WhatIfRequested() && !MyInvocation.BoundParameters.ContainsKey("Confirm")) || ShouldProcess(verboseDescription, verboseWarning, caption));

        /// <summary>-WhatIf (bound or $WhatIfPreference), read on the pipeline thread: the one check every cmdlet uses.</summary>
        protected Task<bool> WhatIfRequestedAsync() => OnPipelineAsync(WhatIfRequested);

        /// <summary>
        /// A provider path (relative to the session's current location, PSDrives resolved) computed on the
        /// pipeline thread: session state belongs to the runspace and must not be read from the work thread.
        /// </summary>
        protected Task<string> ResolveProviderPathAsync(string path) => OnPipelineAsync(() => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path));

        /// <summary>True when -WhatIf is bound or $WhatIfPreference is set. Reads session state: call it on the pipeline thread (or through OnPipelineAsync).</summary>
        protected bool WhatIfRequested()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w))
            {
                return w is SwitchParameter s ? s.IsPresent : w is bool b && b;
            }

            object? pref = SessionState.PSVariable.GetValue("WhatIfPreference");
            return pref is SwitchParameter p ? p.IsPresent : pref is bool pb && pb;
        }

        /// <summary>Writes a non-terminating error for one failed item (so -ErrorAction applies).</summary>
        protected void WriteCcieError(CcieException error) => WriteError(ErrorRecords.From(error));

        /// <summary>Runs <paramref name="action"/> on the pipeline thread (now if already there).</summary>
        protected void OnPipeline(Action action)
        {
            if (action is null)
            {
                throw new ArgumentNullException(nameof(action));
            }

            BlockingCollection<Action>? pump = _pump;
            if (pump is null || Environment.CurrentManagedThreadId == _pipelineThreadId)
            {
                action();
                return;
            }

            try
            {
                pump.Add(action);
            }
            catch (InvalidOperationException)
            {
                // The pump closed (the step ended); the pipeline thread is free again.
                action();
            }
        }

        protected Task<T> OnPipelineAsync<T>(Func<T> func)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);

            // Once the pipeline stops (Ctrl+C, Select -First), queued actions are drained without running:
            // the stop token releases whoever awaits their answer, so the work can end.
            CancellationTokenRegistration stopped = _stop.Token.Register(() => done.TrySetCanceled());
            OnPipeline(() =>
            {
                try
                {
                    done.TrySetResult(func());
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                    throw;
                }
                finally
                {
                    stopped.Dispose();
                }
            });
            return done.Task;
        }

        private void Pump(Func<CancellationToken, Task> work)
        {
            using var pump = new BlockingCollection<Action>();
            _pipelineThreadId = Environment.CurrentManagedThreadId;
            _pump = pump;
            Exception? pipelineFailure = null;
            Task running = Task.Run(async () =>
            {
                try
                {
                    await work(_stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    pump.CompleteAdding();
                }
            });

            try
            {
                foreach (Action action in pump.GetConsumingEnumerable())
                {
                    if (pipelineFailure is not null)
                    {
                        continue; // drain: the work is being cancelled
                    }

                    try
                    {
                        action();
                    }
                    catch (Exception e)
                    {
                        // e.g. PipelineStoppedException (Select -First), or a terminating -ErrorAction Stop.
                        pipelineFailure = e;
                        _stop.Cancel();
                    }
                }
            }
            finally
            {
                _pump = null;
            }

            if (pipelineFailure is not null)
            {
                throw pipelineFailure is PipelineStoppedException or ActionPreferenceStopException or RuntimeException
                    ? pipelineFailure
                    : new PipelineStoppedException();
            }

            // The pump completes in the work's finally, a moment BEFORE the task itself turns Faulted/Canceled: wait
            // for that transition (it is imminent), or a failure could be read as success.
            ((IAsyncResult)running).AsyncWaitHandle.WaitOne();
            AggregateException? failed = running.Exception;
            if (running.IsCanceled || (failed?.InnerException is OperationCanceledException && _stop.IsCancellationRequested))
            {
                throw new PipelineStoppedException();
            }

            if (failed?.InnerException is { } inner)
            {
                ThrowTerminatingError(ErrorRecords.FromException(inner, TerminatingTarget()));
            }
        }

        /// <summary>The target object for an unexpected terminating error (override to name the item).</summary>
        protected virtual object? TerminatingTarget() => null;

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            if (!_disposed && disposing)
            {
                _stop.Dispose();
            }

            _disposed = true;
        }

        private sealed class CmdletReporter : IOperationReporter
        {
            private readonly CcieAsyncCmdlet _cmdlet;

            public CmdletReporter(CcieAsyncCmdlet cmdlet) => _cmdlet = cmdlet;

            public void Progress(ProgressUpdate update)
            {
                var record = new ProgressRecord(update.ActivityId, update.Activity, string.IsNullOrEmpty(update.Status) ? update.Activity : update.Status)
                {
                    ParentActivityId = update.ParentActivityId,
                    RecordType = update.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
                    PercentComplete = update.PercentComplete ?? -1,
                };
                _cmdlet.WriteProgress(record);
            }

            public void Verbose(string message) => _cmdlet.WriteVerbose(message);

            public void Warning(string message) => _cmdlet.WriteWarning(message);
        }
    }
}

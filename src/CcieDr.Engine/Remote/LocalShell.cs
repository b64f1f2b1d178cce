using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Remote
{
    /// <summary>
    /// Runs commands on this machine (the cmdlet runs on the Services box itself). Each command gets its own
    /// session and process group (setsid), so a timeout or Ctrl+C kills the command and everything it started.
    /// </summary>
    public sealed class LocalShell : IRemoteShell
    {
        private const int SigKill = 9;
        private readonly IOperationReporter _reporter;
        private readonly System.Collections.Generic.IReadOnlyDictionary<string, string>? _environment;

        /// <param name="reporter">Where each command is logged (masked).</param>
        /// <param name="environment">Variables set for the commands on top of this process's own (e.g. PATH for a stand-in).</param>
        public LocalShell(IOperationReporter? reporter = null, System.Collections.Generic.IReadOnlyDictionary<string, string>? environment = null)
        {
            _reporter = reporter ?? NullReporter.Instance;
            _environment = environment;
        }

        public RemoteTransport Transport => RemoteTransport.Local;

        public string Host => "localhost";

        public async Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            cancellationToken.ThrowIfCancellationRequested();
            _reporter.Verbose(RemoteScript.VerboseLine(Transport, Host, command));
            string setsid = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : "/bin/setsid";
            bool ownGroup = File.Exists(setsid);
            var info = new ProcessStartInfo(ownGroup ? setsid : "/bin/sh")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = new UTF8Encoding(false),
                StandardErrorEncoding = new UTF8Encoding(false),
            };
            if (_environment is not null)
            {
                foreach (var pair in _environment)
                {
                    info.Environment[pair.Key] = pair.Value;
                }
            }

            info.Arguments = (ownGroup ? "/bin/sh " : string.Empty) + "-c " + EscapeArgument(RemoteScript.Wrap(command));

            var clock = Stopwatch.StartNew();
            using var process = new Process { StartInfo = info, EnableRaisingEvents = true };
            var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.Exited += (_, _) => exited.TrySetResult(true);
            try
            {
                process.Start();
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new CcieException("LocalShellUnavailable", CcieErrorCategory.NotInstalled, $"Cannot start /bin/sh on this machine: {e.Message}. -Transport Local runs commands on the machine the cmdlet runs on, which must be a Linux Services box.", Host, e);
            }

            process.StandardInput.Close();
            var stdout = new CappedReader(process.StandardOutput, command.MaxOutputChars);
            var stderr = new CappedReader(process.StandardError, command.MaxOutputChars);
            Task outTask = stdout.RunAsync();
            Task errTask = stderr.RunAsync();

            using var timeout = new CancellationTokenSource(command.Timeout);
            var stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(() => stopped.TrySetResult(true)))
            using (timeout.Token.Register(() => stopped.TrySetResult(true)))
            {
                if (process.HasExited)
                {
                    exited.TrySetResult(true);
                }

                Task first = await Task.WhenAny(exited.Task, stopped.Task).ConfigureAwait(false);
                if (first != exited.Task)
                {
                    Kill(process, ownGroup);
                    await exited.Task.ConfigureAwait(false);
                    await Task.WhenAll(outTask, errTask).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new CcieException(
                        "RemoteCommandTimedOut",
                        CcieErrorCategory.OperationTimeout,
                        $"The command on {Host} did not finish within {command.Timeout.TotalSeconds:0} s and was killed: {RemoteScript.VerboseLine(Transport, Host, command)}. Raise -TimeoutSec if it needs longer.",
                        Host);
                }
            }

            await Task.WhenAll(outTask, errTask).ConfigureAwait(false);
            process.WaitForExit();
            return new RemoteResult(process.ExitCode, stdout.Text, stderr.Text, stdout.Truncated || stderr.Truncated, Transport, Host, clock.Elapsed);
        }

        public void Dispose()
        {
        }

        private static void Kill(Process process, bool ownGroup)
        {
            try
            {
                if (ownGroup && kill(-process.Id, SigKill) == 0)
                {
                    return;
                }

                process.Kill();
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }

        // One argument for ProcessStartInfo.Arguments (the .NET rules: double quotes, backslashes before quotes doubled).
        private static string EscapeArgument(string arg)
        {
            var s = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in arg)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }

                if (c == '"')
                {
                    s.Append('\\', (backslashes * 2) + 1);
                }
                else
                {
                    s.Append('\\', backslashes);
                }

                backslashes = 0;
                s.Append(c);
            }

            s.Append('\\', backslashes * 2);
            return s.Append('"').ToString();
        }

        [DllImport("libc", SetLastError = true)]
#pragma warning disable CA5392, SA1300, IDE1006
        private static extern int kill(int pid, int sig);
#pragma warning restore CA5392, SA1300, IDE1006

        /// <summary>Reads a stream to its end, keeping at most a given number of characters.</summary>
        internal sealed class CappedReader
        {
            private readonly TextReader _reader;
            private readonly int _max;
            private readonly StringBuilder _text = new StringBuilder();

            public CappedReader(TextReader reader, int max)
            {
                _reader = reader;
                _max = max;
            }

            public string Text => _text.ToString();

            public bool Truncated { get; private set; }

            public async Task RunAsync()
            {
                var buffer = new char[8192];
                int n;
                while ((n = await _reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                {
                    int room = _max - _text.Length;
                    if (n > room)
                    {
                        Truncated = true;
                    }

                    if (room > 0)
                    {
                        _text.Append(buffer, 0, Math.Min(n, room));
                    }
                }
            }
        }
    }
}

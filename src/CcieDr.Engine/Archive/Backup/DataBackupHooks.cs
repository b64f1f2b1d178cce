using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>Outcome of a pre- or post-backup command.</summary>
    public sealed class BackupHookResult
    {
        internal BackupHookResult(string command, int exitCode, string output, TimeSpan duration, bool timedOut)
        {
            Command = command;
            ExitCode = exitCode;
            Output = output;
            Duration = duration;
            TimedOut = timedOut;
        }

        /// <summary>The command line.</summary>
        public string Command { get; }

        /// <summary>Exit code (-1 when it was killed).</summary>
        public int ExitCode { get; }

        /// <summary>Combined standard output and error (the last 64 KB).</summary>
        public string Output { get; }

        /// <summary>How long it ran.</summary>
        public TimeSpan Duration { get; }

        /// <summary>True when it was killed for running too long.</summary>
        public bool TimedOut { get; }

        /// <summary>True when it exited with 0.</summary>
        public bool Succeeded => ExitCode == 0 && !TimedOut;
    }

    /// <summary>Runs hook commands through the platform shell (/bin/sh -c, or cmd.exe /c on Windows).</summary>
    internal static class DataBackupHooks
    {
        private const int MaxOutputChars = 64 * 1024;

        public static async Task<BackupHookResult> RunAsync(string command, IDictionary<string, string> environment, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
            var psi = new ProcessStartInfo
            {
                FileName = windows ? "cmd.exe" : "/bin/sh",
                Arguments = windows ? "/d /s /c \"" + command + "\"" : "-c " + QuoteArgument(command),
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                CreateNoWindow = true,
                WorkingDirectory = workingDirectory,
            };
            foreach (var kv in environment)
            {
                psi.Environment[kv.Key] = kv.Value;
            }

            var output = new StringBuilder();
            var sw = Stopwatch.StartNew();
            using var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.Exited += (_, _) => exited.TrySetResult(true);
            DataReceivedEventHandler append = (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (output)
                {
                    output.AppendLine(e.Data);
                    if (output.Length > MaxOutputChars * 2)
                    {
                        output.Remove(0, output.Length - MaxOutputChars);
                    }
                }
            };
            process.OutputDataReceived += append;
            process.ErrorDataReceived += append;
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var timeoutCts = new CancellationTokenSource(timeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (linked.Token.Register(() => cancelled.TrySetResult(true)))
            {
                await Task.WhenAny(exited.Task, cancelled.Task).ConfigureAwait(false);
            }

            var timedOut = false;
            if (!process.HasExited)
            {
                KillTree(process);
                timedOut = timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
                process.WaitForExit(5000);
            }
            else if (process.WaitForExit(5000))
            {
                // The parameterless overload also drains the asynchronous output readers; bounded, because a
                // background child of the command may keep the pipes open.
                Task.Run(() => process.WaitForExit(), CancellationToken.None).Wait(TimeSpan.FromSeconds(5));
            }

            cancellationToken.ThrowIfCancellationRequested();
            string text;
            lock (output)
            {
                text = output.Length > MaxOutputChars ? output.ToString(output.Length - MaxOutputChars, MaxOutputChars) : output.ToString();
            }

            return new BackupHookResult(command, timedOut ? -1 : process.ExitCode, text.TrimEnd(), sw.Elapsed, timedOut);
        }

        /// <summary>Kills the shell and its children (Process.Kill(bool) exists at run time on .NET Core 3+; netstandard2.0 cannot name it).</summary>
        private static void KillTree(Process process)
        {
            try
            {
                var killTree = typeof(Process).GetMethod("Kill", new[] { typeof(bool) });
                if (killTree != null)
                {
                    killTree.Invoke(process, new object[] { true });
                }
                else
                {
                    process.Kill();
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is System.Reflection.TargetInvocationException || ex is System.ComponentModel.Win32Exception)
            {
                // Exited meanwhile.
            }
        }

        /// <summary>
        /// Quotes one argument for ProcessStartInfo.Arguments, which .NET splits with the Windows command-line rules
        /// on every platform (netstandard2.0 has no ArgumentList): double quotes, backslashes doubled before a quote.
        /// </summary>
        internal static string QuoteArgument(string s)
        {
            var sb = new StringBuilder("\"");
            var backslashes = 0;
            foreach (var c in s)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }

                if (c == '"')
                {
                    sb.Append('\\', (backslashes * 2) + 1);
                }
                else
                {
                    sb.Append('\\', backslashes);
                }

                backslashes = 0;
                sb.Append(c);
            }

            sb.Append('\\', backslashes * 2);
            sb.Append('"');
            return sb.ToString();
        }
    }
}

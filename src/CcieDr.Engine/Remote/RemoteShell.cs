using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Remote
{
    /// <summary>How a command reaches the Services box. Ssm is designed in but not implemented yet.</summary>
    public enum RemoteTransport
    {
        Ssh,
        Local,
        Ssm,
    }

    /// <summary>One shell script to run on the box (by /bin/sh), optionally as root through <c>sudo -n</c>.</summary>
    public sealed class RemoteCommand
    {
        public RemoteCommand(string script)
        {
            Script = script ?? throw new ArgumentNullException(nameof(script));
        }

        /// <summary>POSIX shell text, run by <c>/bin/sh -c</c>.</summary>
        public string Script { get; }

        /// <summary>Run as root: <c>sudo -n</c> unless the remote user already is root.</summary>
        public bool Sudo { get; set; }

        /// <summary>How long the command may run before it is killed.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

        /// <summary>Literal values that must never be logged (masked in the command line and in errors).</summary>
        public IReadOnlyList<string> Secrets { get; set; } = Array.Empty<string>();

        /// <summary>The output itself is a secret: never logged, never put into an error.</summary>
        public bool OutputIsSecret { get; set; }

        /// <summary>Characters kept per stream; the rest is dropped and <see cref="RemoteResult.Truncated"/> set.</summary>
        public int MaxOutputChars { get; set; } = 1024 * 1024;
    }

    /// <summary>What one command did: exit code and output, where and how long.</summary>
    public sealed class RemoteResult
    {
        public RemoteResult(int exitCode, string stdout, string stderr, bool truncated, RemoteTransport transport, string host, TimeSpan duration)
        {
            ExitCode = exitCode;
            Stdout = stdout;
            Stderr = stderr;
            Truncated = truncated;
            Transport = transport;
            Host = host;
            Duration = duration;
        }

        public int ExitCode { get; }

        public string Stdout { get; }

        public string Stderr { get; }

        /// <summary>True when stdout or stderr was cut at the output limit.</summary>
        public bool Truncated { get; }

        public RemoteTransport Transport { get; }

        public string Host { get; }

        public TimeSpan Duration { get; }
    }

    /// <summary>A shell on the Services box. One instance may run several commands; dispose to disconnect.</summary>
    public interface IRemoteShell : IDisposable
    {
        RemoteTransport Transport { get; }

        /// <summary>The box as this transport names it (a host name, an IP, "localhost").</summary>
        string Host { get; }

        /// <summary>
        /// Runs the command. A non-zero exit code is a result, not an exception; a timeout, a refused
        /// connection or a refused host key is a <see cref="CcieException"/>; cancellation kills the command.
        /// </summary>
        Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken);
    }
}

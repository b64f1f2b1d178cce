using System;

namespace CcieDr
{
    /// <summary>One command run on the Services box: where, how, exit code and output. Emitted by Invoke-CcieServicesBoxCommand.</summary>
    public sealed class RemoteCommandResult
    {
        internal RemoteCommandResult()
        {
        }

        public string Host { get; internal set; } = string.Empty;

        public string? InstanceId { get; internal set; }

        public string Transport { get; internal set; } = string.Empty;

        /// <summary>The command as logged (secret-looking values masked).</summary>
        public string Command { get; internal set; } = string.Empty;

        public int ExitCode { get; internal set; }

        public bool Succeeded => ExitCode == 0;

        public string StandardOutput { get; internal set; } = string.Empty;

        public string StandardError { get; internal set; } = string.Empty;

        /// <summary>True when the output was cut at the output limit.</summary>
        public bool Truncated { get; internal set; }

        public TimeSpan Duration { get; internal set; }

        public override string ToString() => StandardOutput;
    }
}

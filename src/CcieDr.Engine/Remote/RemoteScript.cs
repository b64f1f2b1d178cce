using System.Text;
using System;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Remote
{
    /// <summary>Quoting, the sudo wrapper and the masked form of a command for logs. Shared by every transport.</summary>
    public static class RemoteScript
    {
        /// <summary>The text in single quotes for /bin/sh: <c>it's</c> becomes <c>'it'\''s'</c>.</summary>
        public static string Quote(string text)
        {
            if (text is null)
            {
                throw new ArgumentNullException(nameof(text));
            }

            return "'" + text.Replace("'", "'\\''") + "'";
        }

        /// <summary>
        /// The command line a transport hands to the remote login shell: <c>/bin/sh -c</c> with the script, under
        /// <c>sudo -n</c> when asked and the user is not already root (checked on the box, so it fits any user).
        /// </summary>
        public static string Wrap(RemoteCommand command)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            string quoted = Quote(command.Script);
            if (!command.Sudo)
            {
                return "/bin/sh -c " + quoted;
            }

            return "if [ \"$(id -u)\" = 0 ]; then exec /bin/sh -c " + quoted + "; else exec sudo -n /bin/sh -c " + quoted + "; fi";
        }

        /// <summary>The command as it may be logged: secret-looking values and the command's own secrets masked.</summary>
        public static string Describe(RemoteCommand command)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            return Mask(command.Script, command);
        }

        /// <summary>Masks <paramref name="text"/> with SecretMask and replaces every literal secret of the command.</summary>
        public static string Mask(string? text, RemoteCommand command)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            var s = new StringBuilder(text ?? string.Empty);
            foreach (string secret in command.Secrets)
            {
                if (!string.IsNullOrEmpty(secret))
                {
                    s.Replace(secret, SecretMask.Mask);
                }
            }

            return SecretMask.Apply(s.ToString());
        }

        /// <summary>The verbose line logged for each command a transport runs.</summary>
        public static string VerboseLine(RemoteTransport transport, string host, RemoteCommand command)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            string line = Describe(command).Replace("\r", string.Empty).Replace("\n", "; ");
            if (line.Length > 500)
            {
                line = line.Substring(0, 500) + "...";
            }

            return $"{transport} {host}{(command.Sudo ? " (sudo)" : string.Empty)}: {line}";
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// Tags a restore writes on what it creates, and the deterministic names and client tokens that make a
    /// rerun find (and reuse) what an earlier run of the same restore already created.
    /// </summary>
    public static class RestoreNaming
    {
        /// <summary>On the AMI, the instance and its volumes: the recovery point (or seed snapshot) restored.</summary>
        public const string RestoredFromTag = "ccie:restored-from";

        /// <summary>On the AMI, the instance and its volumes: the instance id of the box the point was taken from.</summary>
        public const string RestoreOfTag = "ccie:restore-of";

        /// <summary>Who made the resource (same key as the snapshot schema).</summary>
        public const string CreatedByTag = "ccie:created-by";

        public const string CreatedByValue = "CcieDr/Restore-CcieServicesBox";

        /// <summary>On everything a recovery drill creates: the drill's id (Remove-CcieDrill sweeps by it).</summary>
        public const string DrillTag = "ccie:drill";

        /// <summary>Prefix of every AMI a recovery drill registers (ccie-drill-&lt;drill id&gt;-&lt;point&gt;).</summary>
        public const string DrillImageNamePrefix = "ccie-drill-";

        /// <summary>The AMI name for a drill of a recovery point: never the name a real restore of that point uses.</summary>
        public static string DrillImageName(string drillId, string recoveryPointId)
        {
            string name = ImageName(recoveryPointId).Substring(ImageNamePrefix.Length);
            string full = DrillImageNamePrefix + drillId + "-" + name;
            return full.Length > 128 ? full.Substring(0, 128) : full;
        }

        /// <summary>True when the tags mark a resource of a recovery drill (of any drill).</summary>
        public static bool IsDrillResource(IEnumerable<KeyValuePair<string, string>> tags)
        {
            foreach (KeyValuePair<string, string> t in tags)
            {
                if (string.Equals(t.Key, DrillTag, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Prefix of every AMI a restore registers.</summary>
        public const string ImageNamePrefix = "ccie-restore-";

        /// <summary>Generations tried before giving up on finding a usable client token.</summary>
        public const int MaxTokenGenerations = 9;

        /// <summary>The AMI name for a recovery point: unique per account and region, so it is looked up before registering.</summary>
        public static string ImageName(string recoveryPointId)
        {
            if (string.IsNullOrEmpty(recoveryPointId))
            {
                throw new ArgumentException("A recovery point id is required.", nameof(recoveryPointId));
            }

            var name = new StringBuilder(ImageNamePrefix.Length + recoveryPointId.Length);
            name.Append(ImageNamePrefix);
            foreach (char c in recoveryPointId)
            {
                // AMI names allow letters, digits, ( ) [ ] space . / - ' @ _
                name.Append(char.IsLetterOrDigit(c) || "()[] ./-'@_".IndexOf(c) >= 0 ? c : '_');
            }

            return name.Length > 128 ? name.ToString(0, 128) : name.ToString();
        }

        /// <summary>
        /// The RunInstances client token: derived from the recovery point and where the box goes, so a rerun of
        /// the same restore replays the same launch instead of starting a second box. A later generation is
        /// used only when an earlier one is spent (its instance was terminated, or the launch parameters changed).
        /// </summary>
        public static string ClientToken(string recoveryPointId, string subnetId, string? privateIpAddress, int generation = 1)
        {
            string basis = string.Join("|", recoveryPointId, subnetId, privateIpAddress ?? "auto");
            string hash;
            using (SHA256 sha = SHA256.Create())
            {
                byte[] digest = sha.ComputeHash(Encoding.UTF8.GetBytes(basis));
                var hex = new StringBuilder(32);
                for (int i = 0; i < 12; i++)
                {
                    hex.Append(digest[i].ToString("x2", CultureInfo.InvariantCulture));
                }

                hash = hex.ToString();
            }

            // 64 ASCII characters at most.
            return generation <= 1
                ? "ccie-restore-" + hash
                : "ccie-restore-" + hash + "-g" + generation.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>True when <paramref name="token"/> is one of the generations of <paramref name="baseToken"/>.</summary>
        public static bool IsGenerationOf(string? token, string baseToken)
            => token is not null && (string.Equals(token, baseToken, StringComparison.Ordinal) || token.StartsWith(baseToken + "-g", StringComparison.Ordinal));
    }
}

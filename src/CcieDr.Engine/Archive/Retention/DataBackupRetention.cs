using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Archive.Retention
{
    /// <summary>
    /// Plans which data archives a retention policy removes. An archive is good when it is complete (ends with its
    /// manifest) and, when a verifier is given, the newest complete archives are verified newest first until one
    /// passes: archives that fail are bad, and the one that passes is the newest good archive, which
    /// <see cref="RetentionPolicy"/> never removes unless IncludeNewest.
    /// </summary>
    public static class DataBackupRetention
    {
        /// <summary>Reason added for an archive that failed verification.</summary>
        public const string FailedVerificationReason = "failed verification (Test-CcieBackup)";

        /// <summary>Reason added for an archive without a manifest.</summary>
        public const string IncompleteReason = "no manifest (incomplete or not written by CcieDr)";

        /// <summary>Plans the removals; decisions are newest first, each carrying its archive as the item's Tag.</summary>
        public static async Task<IReadOnlyList<RetentionDecision>> PlanAsync(
            IReadOnlyList<DataBackupArchiveInfo> archives,
            RetentionOptions options,
            DateTimeOffset now,
            Func<DataBackupArchiveInfo, CancellationToken, Task<bool>>? verify,
            CancellationToken cancellationToken = default)
        {
            if (archives is null)
            {
                throw new ArgumentNullException(nameof(archives));
            }

            var failed = new HashSet<DataBackupArchiveInfo>();
            var verified = (DataBackupArchiveInfo?)null;
            if (verify != null)
            {
                foreach (var a in archives.Where(a => a.HasManifest).OrderByDescending(a => a.Created).ThenByDescending(a => a.Location, StringComparer.Ordinal))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (await verify(a, cancellationToken).ConfigureAwait(false))
                    {
                        verified = a;
                        break;
                    }

                    failed.Add(a);
                }
            }

            var items = archives.Select(a => new RetentionItem(a.Location, a.Created, a.HasManifest && !failed.Contains(a), a)).ToList();
            var decisions = RetentionPolicy.Evaluate(items, now, options);
            return decisions.Select(d =>
            {
                var a = (DataBackupArchiveInfo)d.Item.Tag!;
                if (d.Item.IsGood)
                {
                    return d;
                }

                var why = failed.Contains(a) ? FailedVerificationReason : IncompleteReason;
                return new RetentionDecision(d.Item, d.Keep, d.Reasons.Select(r => r == RetentionPolicy.BadReason ? why : r).ToList());
            }).ToList();
        }
    }
}

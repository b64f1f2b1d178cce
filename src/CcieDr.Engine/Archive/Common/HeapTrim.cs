using System;
using System.Runtime;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// Keeps a long archive walk's whole-process memory flat in the number of members. Per member the walk holds
    /// nothing (the index and the manifest live in spool files), but the garbage it makes — a few short-lived
    /// strings and records a member, and the index tables it outgrows — lets the runtime's heap budget drift upwards
    /// with the member count (measured: +36 MB of peak RSS from 60,000 to 250,000 small files, none of it live).
    /// Every <see cref="Interval"/> members, one blocking, compacting collection (large-object heap included) hands
    /// that slack back; at ~20 ms each on a ~100 MB heap that is well under 1 % of a walk.
    /// </summary>
    internal sealed class HeapTrim
    {
        /// <summary>Members between two trims.</summary>
        internal const int Interval = 16384;

        private int _sinceLast;

        /// <summary>Counts one member; trims the heap when <see cref="Interval"/> have passed since the last trim.</summary>
        internal void Member()
        {
            if (++_sinceLast < Interval)
            {
                return;
            }

            _sinceLast = 0;
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }
}

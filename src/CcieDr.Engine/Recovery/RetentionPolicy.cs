using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CcieDr.Engine.Recovery
{
    /// <summary>One recovery point (snapshot, AMI, archive) considered by <see cref="RetentionPolicy"/>.</summary>
    public sealed class RetentionItem
    {
        /// <summary>Creates an item.</summary>
        /// <param name="id">Stable identifier (snapshot id, object key, file name).</param>
        /// <param name="timestamp">When the recovery point was taken.</param>
        /// <param name="isGood">Whether it is usable (completed, verified); bad items never satisfy a keep rule.</param>
        /// <param name="tag">Caller's own object, carried through to the decision.</param>
        public RetentionItem(string id, DateTimeOffset timestamp, bool isGood = true, object? tag = null)
        {
            Id = id ?? throw new ArgumentNullException(nameof(id));
            Timestamp = timestamp;
            IsGood = isGood;
            Tag = tag;
        }

        /// <summary>Stable identifier.</summary>
        public string Id { get; }

        /// <summary>When the recovery point was taken.</summary>
        public DateTimeOffset Timestamp { get; }

        /// <summary>Whether the item is usable; bad items are never kept by a rule.</summary>
        public bool IsGood { get; }

        /// <summary>Caller's object.</summary>
        public object? Tag { get; }
    }

    /// <summary>Keep rules, restic/borg style. 0 disables a rule, -1 means unlimited.</summary>
    public sealed class RetentionOptions
    {
        /// <summary>Keep the newest N good items.</summary>
        public int KeepLast { get; set; }

        /// <summary>Keep the newest good item of each of the last N hours that have one.</summary>
        public int KeepHourly { get; set; }

        /// <summary>Keep the newest good item of each of the last N days that have one.</summary>
        public int KeepDaily { get; set; }

        /// <summary>Keep the newest good item of each of the last N ISO weeks that have one.</summary>
        public int KeepWeekly { get; set; }

        /// <summary>Keep the newest good item of each of the last N months that have one.</summary>
        public int KeepMonthly { get; set; }

        /// <summary>Keep the newest good item of each of the last N years that have one.</summary>
        public int KeepYearly { get; set; }

        /// <summary>
        /// Only items older than this (relative to <c>now</c>) may be removed: every good item taken
        /// within this span of <c>now</c> is kept ("keep-within").
        /// </summary>
        public TimeSpan? OlderThan { get; set; }

        /// <summary>Allow removing the newest good item when no rule keeps it.</summary>
        public bool IncludeNewest { get; set; }

        /// <summary>Time zone whose calendar defines hours, days, weeks, months and years (UTC when null).</summary>
        public TimeZoneInfo? TimeZone { get; set; }

        /// <summary>True when no keep rule and no OlderThan is set.</summary>
        public bool IsEmpty =>
            KeepLast == 0 && KeepHourly == 0 && KeepDaily == 0 && KeepWeekly == 0 && KeepMonthly == 0 && KeepYearly == 0 && OlderThan is null;
    }

    /// <summary>Decision for one item.</summary>
    public sealed class RetentionDecision
    {
        internal RetentionDecision(RetentionItem item, bool keep, IReadOnlyList<string> reasons)
        {
            Item = item;
            Keep = keep;
            Reasons = reasons;
        }

        /// <summary>The item.</summary>
        public RetentionItem Item { get; }

        /// <summary>True to keep, false to remove.</summary>
        public bool Keep { get; }

        /// <summary>Why it is kept (e.g. "keep-daily 2026-11-27"), or why it is removed.</summary>
        public IReadOnlyList<string> Reasons { get; }

        /// <inheritdoc/>
        public override string ToString() => $"{Item.Id} {(Keep ? "keep" : "remove")} ({string.Join(", ", Reasons)})";
    }

    /// <summary>
    /// Retention policy as a pure function, with the semantics of restic's <c>forget</c> and borg's
    /// <c>prune</c>: items are walked newest first; each rule keeps the newest item of each of its
    /// last N periods that contain an item (periods are counted back from the newest item, not from
    /// now); an item is kept if any rule keeps it. Bad items never satisfy a rule. The newest good
    /// item is always kept unless <see cref="RetentionOptions.IncludeNewest"/>.
    /// </summary>
    public static class RetentionPolicy
    {
        /// <summary>Reason recorded for an item no rule keeps.</summary>
        public const string NotKeptReason = "not kept by any rule";

        /// <summary>Reason recorded for a bad item.</summary>
        public const string BadReason = "not good (failed or unverified)";

        /// <summary>Reason recorded for the newest good item kept by the safety net.</summary>
        public const string NewestGoodReason = "newest good";

        /// <summary>Applies <paramref name="options"/> to <paramref name="items"/>; returns one decision per item, newest first.</summary>
        /// <exception cref="ArgumentException">No rule is set, or a count is below -1.</exception>
        public static IReadOnlyList<RetentionDecision> Evaluate(IEnumerable<RetentionItem> items, DateTimeOffset now, RetentionOptions options)
        {
            if (items is null)
            {
                throw new ArgumentNullException(nameof(items));
            }

            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            if (options.IsEmpty)
            {
                throw new ArgumentException("A retention policy needs at least one of KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly or OlderThan; with none, nothing would be kept.", nameof(options));
            }

            if (options.OlderThan is { } span && span < TimeSpan.Zero)
            {
                throw new ArgumentException("OlderThan must not be negative.", nameof(options));
            }

            var tz = options.TimeZone ?? TimeZoneInfo.Utc;
            var buckets = new List<Bucket>();
            AddBucket(buckets, "keep-last", options.KeepLast, null);
            AddBucket(buckets, "keep-hourly", options.KeepHourly, t => t.ToString("yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture));
            AddBucket(buckets, "keep-daily", options.KeepDaily, t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            AddBucket(buckets, "keep-weekly", options.KeepWeekly, IsoWeek);
            AddBucket(buckets, "keep-monthly", options.KeepMonthly, t => t.ToString("yyyy-MM", CultureInfo.InvariantCulture));
            AddBucket(buckets, "keep-yearly", options.KeepYearly, t => t.ToString("yyyy", CultureInfo.InvariantCulture));

            // Newest first; ties broken by id so the result is deterministic.
            var sorted = items
                .OrderByDescending(i => i.Timestamp)
                .ThenByDescending(i => i.Id, StringComparer.Ordinal)
                .ToList();

            var result = new List<RetentionDecision>(sorted.Count);
            var newestGoodIndex = sorted.FindIndex(i => i.IsGood);
            var lastCounter = 0;
            for (var idx = 0; idx < sorted.Count; idx++)
            {
                var item = sorted[idx];
                var reasons = new List<string>();
                if (!item.IsGood)
                {
                    result.Add(new RetentionDecision(item, false, new[] { BadReason }));
                    continue;
                }

                var local = TimeZoneInfo.ConvertTime(item.Timestamp, tz);
                foreach (var b in buckets)
                {
                    if (b.Remaining == 0)
                    {
                        continue;
                    }

                    string period;
                    if (b.PeriodOf is null)
                    {
                        lastCounter++;
                        period = "#" + lastCounter.ToString(CultureInfo.InvariantCulture);
                    }
                    else
                    {
                        period = b.PeriodOf(local.DateTime);
                    }

                    if (b.PeriodOf is null || !string.Equals(period, b.LastPeriod, StringComparison.Ordinal))
                    {
                        reasons.Add(b.Name + " " + period);
                        b.LastPeriod = period;
                        if (b.Remaining > 0)
                        {
                            b.Remaining--;
                        }
                    }
                }

                if (options.OlderThan is { } within && item.Timestamp > now - within)
                {
                    reasons.Add("within " + FormatSpan(within));
                }

                if (reasons.Count == 0 && idx == newestGoodIndex && !options.IncludeNewest)
                {
                    reasons.Add(NewestGoodReason);
                }

                result.Add(reasons.Count > 0
                    ? new RetentionDecision(item, true, reasons)
                    : new RetentionDecision(item, false, new[] { NotKeptReason }));
            }

            return result;
        }

        private static void AddBucket(List<Bucket> buckets, string name, int count, Func<DateTime, string>? periodOf)
        {
            if (count < -1)
            {
                throw new ArgumentException($"{name} must be -1 (unlimited), 0 (off) or a positive count; got {count}.");
            }

            if (count != 0)
            {
                buckets.Add(new Bucket(name, count, periodOf));
            }
        }

        private static string IsoWeek(DateTime t)
        {
            // ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday.
            var day = (int)t.DayOfWeek;
            if (day == 0)
            {
                day = 7;
            }

            var thursday = t.Date.AddDays(4 - day);
            var week = ((thursday.DayOfYear - 1) / 7) + 1;
            return string.Format(CultureInfo.InvariantCulture, "{0:0000}-W{1:00}", thursday.Year, week);
        }

        private static string FormatSpan(TimeSpan span)
        {
            if (span.Ticks % TimeSpan.TicksPerDay == 0)
            {
                return ((long)span.TotalDays).ToString(CultureInfo.InvariantCulture) + "d";
            }

            if (span.Ticks % TimeSpan.TicksPerHour == 0)
            {
                return ((long)span.TotalHours).ToString(CultureInfo.InvariantCulture) + "h";
            }

            return span.ToString("c", CultureInfo.InvariantCulture);
        }

        private sealed class Bucket
        {
            public Bucket(string name, int remaining, Func<DateTime, string>? periodOf)
            {
                Name = name;
                Remaining = remaining;
                PeriodOf = periodOf;
            }

            public string Name { get; }

            public int Remaining { get; set; }

            public Func<DateTime, string>? PeriodOf { get; }

            public string? LastPeriod { get; set; }
        }
    }
}

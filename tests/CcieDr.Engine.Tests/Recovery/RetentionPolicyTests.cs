using System.Globalization;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Recovery
{
    public class RetentionPolicyTests
    {
        private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

        private static DateTimeOffset D(string iso) =>
            DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

        /// <summary>One good item per day at 02:00 UTC for 365 days, the newest on 2026-11-28 (a Saturday). Id = yyyy-MM-dd.</summary>
        private static List<RetentionItem> YearOfDailies()
        {
            var items = new List<RetentionItem>();
            var newest = new DateTimeOffset(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);
            for (var i = 0; i < 365; i++)
            {
                var t = newest.AddDays(-i);
                items.Add(new RetentionItem(t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), t));
            }

            // Shuffle deterministically: input order must not matter.
            var rng = new Random(42);
            return items.OrderBy(_ => rng.Next()).ToList();
        }

        private static string[] Kept(IEnumerable<RetentionDecision> ds) => ds.Where(d => d.Keep).Select(d => d.Item.Id).ToArray();

        private static RetentionDecision Of(IEnumerable<RetentionDecision> ds, string id) => ds.Single(d => d.Item.Id == id);

        [Fact]
        public void Year_KeepDaily7_Keeps_The_Last_Seven_Days()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepDaily = 7 });
            Assert.Equal(365, ds.Count);
            Assert.Equal(new[] { "2026-11-28", "2026-11-27", "2026-11-26", "2026-11-25", "2026-11-24", "2026-11-23", "2026-11-22" }, Kept(ds));
            Assert.Equal(new[] { "keep-daily 2026-11-27" }, Of(ds, "2026-11-27").Reasons);
            Assert.Equal(new[] { RetentionPolicy.NotKeptReason }, Of(ds, "2026-11-21").Reasons);
        }

        [Fact]
        public void Year_KeepWeekly4_Keeps_The_Newest_Of_Each_Iso_Week()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepWeekly = 4 });
            // 2026-11-28 is a Saturday in 2026-W48 (the newest, partial week); the older weeks end on Sundays.
            Assert.Equal(new[] { "2026-11-28", "2026-11-22", "2026-11-15", "2026-11-08" }, Kept(ds));
            Assert.Equal(new[] { "keep-weekly 2026-W48" }, Of(ds, "2026-11-28").Reasons);
            Assert.Equal(new[] { "keep-weekly 2026-W47" }, Of(ds, "2026-11-22").Reasons);
        }

        [Fact]
        public void Year_KeepWeekly52_Drops_Only_The_Oldest_Week()
        {
            // 365 days starting Saturday 2025-11-29 span 53 ISO weeks (2025-W48 .. 2026-W48).
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepWeekly = 52 });
            var kept = Kept(ds);
            Assert.Equal(52, kept.Length);
            Assert.DoesNotContain("2025-11-30", kept);
            Assert.Contains("2025-12-07", kept);
            // Year boundary: Sunday 2025-12-28 closes 2025-W52, Sunday 2026-01-04 closes 2026-W01.
            Assert.Equal(new[] { "keep-weekly 2025-W52" }, Of(ds, "2025-12-28").Reasons);
            Assert.Equal(new[] { "keep-weekly 2026-W01" }, Of(ds, "2026-01-04").Reasons);
        }

        [Fact]
        public void Year_KeepMonthly12_Keeps_Month_Ends_And_The_Newest()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepMonthly = 12 });
            Assert.Equal(
                new[] { "2026-11-28", "2026-10-31", "2026-09-30", "2026-08-31", "2026-07-31", "2026-06-30", "2026-05-31", "2026-04-30", "2026-03-31", "2026-02-28", "2026-01-31", "2025-12-31" },
                Kept(ds));
            Assert.Equal(new[] { "keep-monthly 2026-02" }, Of(ds, "2026-02-28").Reasons);
        }

        [Fact]
        public void Year_KeepMonthly_Unlimited_Keeps_Every_Month()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepMonthly = -1 });
            Assert.Equal(13, Kept(ds).Length);
            Assert.Equal("2025-11-30", Kept(ds).Last());
        }

        [Fact]
        public void Year_KeepLast10_Keeps_Ten_Newest()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepLast = 10 });
            Assert.Equal(10, Kept(ds).Length);
            Assert.Equal("2026-11-19", Kept(ds).Last());
            Assert.Equal(new[] { "keep-last #1" }, Of(ds, "2026-11-28").Reasons);
            Assert.Equal(new[] { "keep-last #10" }, Of(ds, "2026-11-19").Reasons);
        }

        [Fact]
        public void Year_Combined_Policy_Is_The_Union_With_All_Reasons()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepDaily = 7, KeepWeekly = 4, KeepMonthly = 12, KeepYearly = 2 });
            var kept = Kept(ds);
            Assert.Equal(20, kept.Length); // 7 days + 2 older weeks + 11 older months
            Assert.Equal(new[] { "keep-daily 2026-11-28", "keep-weekly 2026-W48", "keep-monthly 2026-11", "keep-yearly 2026" }, Of(ds, "2026-11-28").Reasons);
            Assert.Equal(new[] { "keep-daily 2026-11-22", "keep-weekly 2026-W47" }, Of(ds, "2026-11-22").Reasons);
            Assert.Equal(new[] { "keep-monthly 2025-12", "keep-yearly 2025" }, Of(ds, "2025-12-31").Reasons);
            Assert.Equal(345, ds.Count(d => !d.Keep));
        }

        [Fact]
        public void Year_KeepYearly_Keeps_Newest_Of_Each_Year()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepYearly = 5 });
            Assert.Equal(new[] { "2026-11-28", "2025-12-31" }, Kept(ds));
        }

        [Fact]
        public void Year_OlderThan_Keeps_Everything_Recent()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { OlderThan = TimeSpan.FromDays(30) });
            // Now = 2026-11-28T12:00; items at 02:00 strictly after 2026-10-29T12:00 are kept: 10-30 .. 11-28 = 30 items.
            Assert.Equal(30, Kept(ds).Length);
            Assert.Equal("2026-10-30", Kept(ds).Last());
            Assert.Equal(new[] { "within 30d" }, Of(ds, "2026-11-01").Reasons);
        }

        [Fact]
        public void Result_Is_Newest_First_Whatever_The_Input_Order()
        {
            var ds = RetentionPolicy.Evaluate(YearOfDailies(), Now, new RetentionOptions { KeepLast = 1 });
            var times = ds.Select(d => d.Item.Timestamp).ToList();
            Assert.Equal(times.OrderByDescending(t => t).ToList(), times);
        }

        [Fact]
        public void KeepDaily_Takes_The_Newest_Item_Of_Each_Day()
        {
            var items = new[]
            {
                new RetentionItem("d1-early", D("2026-11-27T01:00:00Z")),
                new RetentionItem("d1-late", D("2026-11-27T23:00:00Z")),
                new RetentionItem("d2-early", D("2026-11-28T01:00:00Z")),
                new RetentionItem("d2-late", D("2026-11-28T09:00:00Z")),
            };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 2 });
            Assert.Equal(new[] { "d2-late", "d1-late" }, Kept(ds));
        }

        [Fact]
        public void Periods_Are_Counted_Only_Where_Items_Exist()
        {
            // One item every third day: KeepDaily 3 spans nine days, not three.
            var items = Enumerable.Range(0, 10).Select(i => new RetentionItem("i" + i, Now.AddDays(-3 * i))).ToList();
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 3 });
            Assert.Equal(new[] { "i0", "i1", "i2" }, Kept(ds));
        }

        [Fact]
        public void KeepHourly_Uses_Hours()
        {
            var items = Enumerable.Range(0, 12).Select(i => new RetentionItem("m" + (i * 20), Now.AddMinutes(-20 * i))).ToList();
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepHourly = 2 });
            // 12:00 is in hour 12, 11:40 in hour 11 (11:20, 11:00 are older in the same hour).
            Assert.Equal(new[] { "m0", "m20" }, Kept(ds));
            Assert.Equal(new[] { "keep-hourly 2026-11-28T11" }, Of(ds, "m20").Reasons);
        }

        [Fact]
        public void Bad_Items_Never_Satisfy_A_Rule()
        {
            var items = new[]
            {
                new RetentionItem("today-bad", D("2026-11-28T10:00:00Z"), isGood: false),
                new RetentionItem("today-good", D("2026-11-28T01:00:00Z")),
                new RetentionItem("yesterday-bad", D("2026-11-27T10:00:00Z"), isGood: false),
                new RetentionItem("two-days-ago", D("2026-11-26T10:00:00Z")),
                new RetentionItem("three-days-ago", D("2026-11-25T10:00:00Z")),
            };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 2 });
            // The bad item does not fill 2026-11-28; yesterday has no good item so it does not use up a period.
            Assert.Equal(new[] { "today-good", "two-days-ago" }, Kept(ds));
            Assert.Equal(new[] { RetentionPolicy.BadReason }, Of(ds, "today-bad").Reasons);
            Assert.False(Of(ds, "yesterday-bad").Keep);
        }

        [Fact]
        public void Bad_Items_Do_Not_Count_Toward_KeepLast()
        {
            var items = new[]
            {
                new RetentionItem("a", Now.AddHours(-1), isGood: false),
                new RetentionItem("b", Now.AddHours(-2)),
                new RetentionItem("c", Now.AddHours(-3)),
                new RetentionItem("d", Now.AddHours(-4)),
            };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepLast = 2 });
            Assert.Equal(new[] { "b", "c" }, Kept(ds));
        }

        [Fact]
        public void Newest_Good_Item_Is_Kept_When_No_Rule_Keeps_It()
        {
            var items = new[]
            {
                new RetentionItem("newest-bad", Now.AddDays(-40), isGood: false),
                new RetentionItem("newest-good", Now.AddDays(-41)),
                new RetentionItem("older", Now.AddDays(-42)),
            };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { OlderThan = TimeSpan.FromDays(7) });
            Assert.Equal(new[] { "newest-good" }, Kept(ds));
            Assert.Equal(new[] { RetentionPolicy.NewestGoodReason }, Of(ds, "newest-good").Reasons);
        }

        [Fact]
        public void Force_Allows_Removing_The_Newest_Good_Item()
        {
            var items = new[]
            {
                new RetentionItem("a", Now.AddDays(-40)),
                new RetentionItem("b", Now.AddDays(-41)),
            };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { OlderThan = TimeSpan.FromDays(7), IncludeNewest = true });
            Assert.Empty(Kept(ds));
        }

        [Fact]
        public void Only_Bad_Items_Are_All_Removed()
        {
            var items = new[] { new RetentionItem("x", Now, isGood: false), new RetentionItem("y", Now.AddDays(-1), isGood: false) };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepLast = 5 });
            Assert.Empty(Kept(ds));
        }

        [Fact]
        public void Empty_Input_Gives_Empty_Result()
        {
            Assert.Empty(RetentionPolicy.Evaluate(Array.Empty<RetentionItem>(), Now, new RetentionOptions { KeepLast = 1 }));
        }

        [Fact]
        public void Empty_Policy_Is_Refused()
        {
            var ex = Assert.Throws<ArgumentException>(() => RetentionPolicy.Evaluate(new[] { new RetentionItem("a", Now) }, Now, new RetentionOptions()));
            Assert.Contains("KeepLast", ex.Message);
        }

        [Theory]
        [InlineData(-2, 0)]
        [InlineData(0, -5)]
        public void Invalid_Counts_Are_Refused(int last, int daily)
        {
            Assert.Throws<ArgumentException>(() => RetentionPolicy.Evaluate(new[] { new RetentionItem("a", Now) }, Now, new RetentionOptions { KeepLast = last, KeepDaily = daily }));
        }

        [Fact]
        public void Ties_Are_Broken_Deterministically_By_Id()
        {
            var items = new[] { new RetentionItem("a", Now), new RetentionItem("c", Now), new RetentionItem("b", Now) };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepLast = 1 });
            Assert.Equal(new[] { "c" }, Kept(ds));
            Assert.Equal(new[] { "c", "b", "a" }, ds.Select(d => d.Item.Id));
        }

        [Fact]
        public void TimeZone_Defines_Day_Boundaries()
        {
            // In UTC the two items fall on 11-28 and 11-27; at UTC-5 both are on 2026-11-27.
            var items = new[]
            {
                new RetentionItem("a", D("2026-11-28T03:00:00Z")),
                new RetentionItem("b", D("2026-11-27T23:00:00Z")),
            };
            var ny = TimeZoneInfo.CreateCustomTimeZone("UTC-5", TimeSpan.FromHours(-5), "UTC-5", "UTC-5");
            Assert.Equal(new[] { "a", "b" }, Kept(RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 2 })));
            Assert.Equal(new[] { "a" }, Kept(RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 2, TimeZone = ny })));
            var nyDs = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepDaily = 1, TimeZone = ny });
            Assert.Equal(new[] { "keep-daily 2026-11-27" }, Of(nyDs, "a").Reasons);
        }

        [Fact]
        public void Iso_Week_53_At_Year_End()
        {
            // 2027-01-01 (Friday) belongs to 2026-W53.
            var items = new[] { new RetentionItem("ny", D("2027-01-01T10:00:00Z")), new RetentionItem("prev", D("2026-12-27T10:00:00Z")) };
            var ds = RetentionPolicy.Evaluate(items, Now, new RetentionOptions { KeepWeekly = 2 });
            Assert.Equal(new[] { "keep-weekly 2026-W53" }, Of(ds, "ny").Reasons);
            Assert.Equal(new[] { "keep-weekly 2026-W52" }, Of(ds, "prev").Reasons);
        }

        [Fact]
        public void Tag_Is_Carried_Through()
        {
            var tag = new object();
            var ds = RetentionPolicy.Evaluate(new[] { new RetentionItem("a", Now, true, tag) }, Now, new RetentionOptions { KeepLast = 1 });
            Assert.Same(tag, ds[0].Item.Tag);
            Assert.Equal("a keep (keep-last #1)", ds[0].ToString());
        }
    }
}

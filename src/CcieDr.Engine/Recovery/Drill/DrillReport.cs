using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace CcieDr.Engine.Recovery.Drill
{
    /// <summary>
    /// A self-contained HTML report of a recovery drill for an audit: verdict, RTO and RPO, a timeline chart
    /// (inline SVG: one bar per step), the checks and every resource created and removed. No external assets,
    /// no script; every value is HTML-encoded.
    /// </summary>
    public static class DrillReport
    {
        private const int ChartWidth = 720;
        private const int RowHeight = 22;
        private const int LabelWidth = 260;

        public static string Render(RecoveryDrillResult result)
        {
            if (result is null)
            {
                throw new ArgumentNullException(nameof(result));
            }

            var html = new StringBuilder();
            string verdictColour = result.Verdict == "Passed" ? "#1a7f37" : "#cf222e";
            html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Recovery drill ")
                .Append(E(result.DrillId)).Append("</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328}")
                .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}")
                .Append(".verdict{font-size:1.6em;font-weight:bold}</style></head><body>\n")
                .Append("<h1>Recovery drill ").Append(E(result.DrillId)).Append("</h1>\n")
                .Append("<p class=\"verdict\" style=\"color:").Append(verdictColour).Append("\">").Append(E(result.Verdict)).Append("</p>\n");
            if (!string.IsNullOrEmpty(result.Reason))
            {
                html.Append("<p>").Append(E(result.Reason!)).Append("</p>\n");
            }

            html.Append("<table>")
                .Append(Row("Recovery point", result.RecoveryPointId))
                .Append(Row("Region", result.Region))
                .Append(Row("RTO (point chosen to box healthy)", result.Rto is { } rto ? Duration(rto) : "not reached"))
                .Append(Row("RPO (age of the point at the start)", Duration(result.Rpo)))
                .Append(Row("Started (UTC)", Time(result.Started)))
                .Append(Row("Completed (UTC)", Time(result.Completed)))
                .Append(Row("Drill box", (result.InstanceId ?? "none") + (result.PrivateIpAddress is null ? string.Empty : " on " + result.PrivateIpAddress)))
                .Append(Row("Isolated", result.Isolated ? "yes: temporary security group, no egress beyond the drill's checks" : "no"))
                .Append(Row("Recorded on the point", result.Recorded ? "yes" : "no"))
                .Append("</table>\n");

            html.Append("<h2>Timeline</h2>\n").Append(Chart(result)).Append('\n');
            html.Append("<table><tr><th>#</th><th>Step</th><th>Target</th><th>Outcome</th><th>Duration</th><th>Detail</th></tr>");
            foreach (TimelineEntry e in result.Timeline)
            {
                html.Append("<tr><td>").Append(e.Step.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(E(e.Action)).Append("</td><td>").Append(E(e.Target ?? string.Empty))
                    .Append("</td><td>").Append(E(e.Outcome)).Append("</td><td>").Append(e.Duration is { } d ? Duration(d) : string.Empty).Append("</td><td>").Append(E(e.Detail ?? string.Empty)).Append("</td></tr>");
            }

            html.Append("</table>\n<h2>Checks</h2>\n<table><tr><th>Check</th><th>Status</th><th>Detail</th></tr>");
            foreach (RecoveryDrillCheck c in result.Checks)
            {
                html.Append("<tr><td>").Append(E(c.Name)).Append("</td><td>").Append(E(c.Status)).Append("</td><td>").Append(E(c.Detail ?? string.Empty)).Append("</td></tr>");
            }

            html.Append("</table>\n<h2>Resources created</h2>\n<table><tr><th>Kind</th><th>Id</th><th>Removed</th><th>Error</th></tr>");
            foreach (RecoveryDrillResource r in result.Resources)
            {
                html.Append("<tr><td>").Append(E(r.Kind)).Append("</td><td>").Append(E(r.Id)).Append("</td><td>").Append(r.Removed ? "yes" : "NO").Append("</td><td>").Append(E(r.Error ?? string.Empty)).Append("</td></tr>");
            }

            html.Append("</table>\n");
            if (result.Warnings.Count > 0)
            {
                html.Append("<h2>Warnings</h2>\n<ul>");
                foreach (string w in result.Warnings)
                {
                    html.Append("<li>").Append(E(w)).Append("</li>");
                }

                html.Append("</ul>\n");
            }

            html.Append("<p><small>CcieDr Test-CcieRecovery</small></p>\n</body></html>\n");
            return html.ToString();
        }

        // One bar per timeline step on a common time axis from the drill's start.
        private static string Chart(RecoveryDrillResult result)
        {
            var entries = result.Timeline.ToList();
            DateTime start = result.Started;
            double total = Math.Max(1, (Max(result.Completed, entries.Select(e => e.Ended ?? e.Started)) - start).TotalSeconds);
            double scale = (ChartWidth - LabelWidth - 20) / total;
            int height = (entries.Count * RowHeight) + 30;
            var svg = new StringBuilder();
            svg.Append("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline\" width=\"").Append(ChartWidth).Append("\" height=\"").Append(height).Append("\" font-size=\"12\">");
            for (int i = 0; i < entries.Count; i++)
            {
                TimelineEntry e = entries[i];
                double x = LabelWidth + ((e.Started - start).TotalSeconds * scale);
                double w = Math.Max(2, ((e.Ended ?? result.Completed) - e.Started).TotalSeconds * scale);
                int y = (i * RowHeight) + 4;
                string colour = e.Outcome is "Succeeded" or "Reused" ? "#2da44e" : e.Outcome == "Running" ? "#bf8700" : "#cf222e";
                svg.Append("<text x=\"0\" y=\"").Append(y + 14).Append("\">").Append(E(Shorten(e.Action, 38))).Append("</text>")
                    .Append("<rect x=\"").Append(F(x)).Append("\" y=\"").Append(y).Append("\" width=\"").Append(F(w)).Append("\" height=\"").Append(RowHeight - 6)
                    .Append("\" fill=\"").Append(colour).Append("\"><title>").Append(E(e.Action + " " + e.Outcome + (e.Duration is { } d ? " " + Duration(d) : string.Empty))).Append("</title></rect>");
            }

            int axisY = (entries.Count * RowHeight) + 18;
            svg.Append("<text x=\"").Append(LabelWidth).Append("\" y=\"").Append(axisY).Append("\">0 s</text>")
                .Append("<text x=\"").Append(ChartWidth - 70).Append("\" y=\"").Append(axisY).Append("\">").Append(E(Duration(TimeSpan.FromSeconds(total)))).Append("</text></svg>");
            return svg.ToString();
        }

        private static DateTime Max(DateTime a, System.Collections.Generic.IEnumerable<DateTime> more) => more.Aggregate(a, (x, y) => y > x ? y : x);

        private static string Row(string name, string value) => "<tr><th>" + E(name) + "</th><td>" + E(value) + "</td></tr>";

        private static string E(string s) => WebUtility.HtmlEncode(s);

        private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

        private static string Time(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

        private static string Shorten(string s, int max) => s.Length <= max ? s : s.Substring(0, max - 1) + "…";

        public static string Duration(TimeSpan t) => t.TotalSeconds < 120
            ? t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
            : t.TotalHours < 2 ? t.TotalMinutes.ToString("0.0", CultureInfo.InvariantCulture) + " min" : t.TotalHours.ToString("0.0", CultureInfo.InvariantCulture) + " h";
    }
}

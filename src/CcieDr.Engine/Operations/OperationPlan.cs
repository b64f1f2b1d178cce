using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CcieDr.Engine.Operations
{
    /// <summary>One planned step of a state-changing operation: the call it makes and its key arguments.</summary>
    public sealed class PlanStep
    {
        public PlanStep(string action, string description, string? target = null)
        {
            Action = action;
            Description = description;
            Target = target;
        }

        /// <summary>The AWS call or local action, e.g. "ec2:RunInstances".</summary>
        public string Action { get; }

        /// <summary>Key arguments in words, e.g. "PrivateIpAddress=10.0.1.10 SubnetId=subnet-1".</summary>
        public string Description { get; }

        public string? Target { get; }

        public override string ToString() => Action + " " + Description;
    }

    /// <summary>
    /// The ordered steps a state-changing operation will take. -WhatIf prints it; execution follows it and
    /// records each step into a <see cref="Timeline"/>.
    /// </summary>
    public sealed class OperationPlan
    {
        private readonly List<PlanStep> _steps = new List<PlanStep>();

        public OperationPlan(string title, string target)
        {
            Title = title;
            Target = target;
        }

        public string Title { get; }

        public string Target { get; }

        public IReadOnlyList<PlanStep> Steps => _steps;

        public IList<string> Notes { get; } = new List<string>();

        public OperationPlan Add(string action, string description, string? target = null)
        {
            _steps.Add(new PlanStep(action, description, target));
            return this;
        }

        /// <summary>A multi-line rendering for -WhatIf and logs.</summary>
        public string Render()
        {
            var text = new StringBuilder();
            text.Append(Title).Append(" on ").Append(Target).Append(':');
            int i = 1;
            foreach (PlanStep step in _steps)
            {
                text.AppendLine().Append(string.Format(CultureInfo.InvariantCulture, "  {0,2}. {1}", i++, step.Action));
                if (!string.IsNullOrEmpty(step.Description))
                {
                    text.Append("  ").Append(step.Description);
                }
            }

            foreach (string note in Notes.Where(n => !string.IsNullOrEmpty(n)))
            {
                text.AppendLine().Append("  note: ").Append(note);
            }

            return text.ToString();
        }

        public override string ToString() => Render();
    }
}

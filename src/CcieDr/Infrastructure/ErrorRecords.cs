using System;
using System.Management.Automation;
using CcieDr.Engine;

namespace CcieDr.Commands
{
    /// <summary>Builds ErrorRecords with stable ids, the right category and the failing item as target.</summary>
    internal static class ErrorRecords
    {
        public static ErrorRecord From(CcieException error)
        {
            var record = new ErrorRecord(error, error.ErrorId, Map(error.Category), error.Target);
            return record;
        }

        public static ErrorRecord FromException(Exception error, object? target)
        {
            if (error is CcieException ccie)
            {
                return From(ccie);
            }

            if (error is ArgumentException)
            {
                return new ErrorRecord(error, "InvalidArgument", ErrorCategory.InvalidArgument, target);
            }

            return From(Engine.Aws.AwsErrorMapper.Map(error, "CcieDr", target));
        }

        public static ErrorCategory Map(CcieErrorCategory category)
            => Enum.TryParse(category.ToString(), out ErrorCategory mapped) ? mapped : ErrorCategory.NotSpecified;
    }
}

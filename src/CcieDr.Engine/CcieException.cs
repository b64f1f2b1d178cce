using System;

namespace CcieDr.Engine
{
    /// <summary>
    /// Error categories the engine reports. Names match System.Management.Automation.ErrorCategory so
    /// the cmdlet layer can map them one to one without the engine referencing PowerShell.
    /// </summary>
    public enum CcieErrorCategory
    {
        NotSpecified,
        InvalidArgument,
        InvalidData,
        InvalidOperation,
        ObjectNotFound,
        PermissionDenied,
        LimitsExceeded,
        ResourceUnavailable,
        ResourceExists,
        ResourceBusy,
        ConnectionError,
        OperationTimeout,
        OperationStopped,
        AuthenticationError,
        WriteError,
        ReadError,
        NotInstalled,
    }

    /// <summary>
    /// An engine failure with what an operator needs: a stable id, a category, the failing item and a
    /// message that says what to do. Messages never contain secrets.
    /// </summary>
    public class CcieException : Exception
    {
        public CcieException(string errorId, CcieErrorCategory category, string message, object? target = null, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
            Category = category;
            Target = target;
        }

        public CcieException()
            : this("CcieError", CcieErrorCategory.NotSpecified, "CcieDr operation failed.")
        {
        }

        public CcieException(string message)
            : this("CcieError", CcieErrorCategory.NotSpecified, message)
        {
        }

        public CcieException(string message, Exception innerException)
            : this("CcieError", CcieErrorCategory.NotSpecified, message, null, innerException)
        {
        }

        /// <summary>Stable identifier, e.g. "ServicesBoxNotFound".</summary>
        public string ErrorId { get; }

        public CcieErrorCategory Category { get; }

        /// <summary>The failing item (an id, a path), never the cmdlet.</summary>
        public object? Target { get; }
    }
}

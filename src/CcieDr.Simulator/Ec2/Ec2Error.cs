using System.Net;

namespace CcieDr.Simulator.Ec2;

/// <summary>An EC2 API error: the real code, message and HTTP status.</summary>
internal sealed class Ec2Error : Exception
{
    public Ec2Error(string code, string message, HttpStatusCode status = HttpStatusCode.BadRequest)
        : base(message)
    {
        Code = code;
        Status = status;
    }

    public string Code { get; }

    public HttpStatusCode Status { get; }

    public static Ec2Error Missing(string parameter) =>
        new("MissingParameter", $"The request must contain the parameter {parameter}");

    public static Ec2Error InvalidValue(string message) => new("InvalidParameterValue", message);

    public static Ec2Error Combination(string message) => new("InvalidParameterCombination", message);
}

using Amazon.Lambda.Core;

[assembly: LambdaSerializer(typeof(Amazon.Lambda.Serialization.SystemTextJson.DefaultLambdaJsonSerializer))]

namespace HelloWorld;

public class Function
{
    /// <summary>Returns the input in upper case.</summary>
    public string FunctionHandler(string input, ILambdaContext context) => input.ToUpperInvariant();
}

using Amazon.Lambda.TestUtilities;
using Xunit;

namespace HelloWorld.Tests;

public class FunctionTest
{
    [Fact]
    public void UpperCasesItsInput()
    {
        var result = new Function().FunctionHandler("hello world", new TestLambdaContext());
        Assert.Equal("HELLO WORLD", result);
    }
}

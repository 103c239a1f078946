namespace NasCluster.Coordinator.Tests.Cli;

/// <summary><c>nascluster serve</c>'s options: what cannot work is refused before anything listens.</summary>
public sealed class ServeCliTests
{
    [Theory]
    [InlineData("--tls-cert", "/nonexistent/server.crt")]
    [InlineData("--client-ca", "/nonexistent/ca.crt")]
    [InlineData("--max-request-mb", "0")]
    [InlineData("--port", "70000")]
    [InlineData("--host", "no-such-host.invalid")]
    public void Options_that_cannot_work_are_one_error_line_and_exit_2(string option, string value)
    {
        var r = CliResult.Run("serve", "--port", "0", option, value);
        r.AssertBadInput(option == "--client-ca" ? "--client-ca" : option == "--tls-cert" ? "--tls-key" : option);
    }

    [Fact]
    public void A_certificate_file_that_cannot_be_read_names_the_problem()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("server.crt"), "not a certificate");
        File.WriteAllText(dir.File("server.key"), "not a key");
        CliResult.Run("serve", "--port", "0", "--tls-cert", dir.File("server.crt"), "--tls-key", dir.File("server.key"))
            .AssertBadInput("cannot read the TLS certificate or key");
    }

    [Fact]
    public void An_onnx_file_that_is_not_a_model_is_one_error_line_and_exit_2_for_estimate_and_arch_show()
    {
        using var dir = new TempDir();
        var file = dir.File("broken.onnx");
        File.WriteAllBytes(file, [0x08, 0x07, 0x12, 0xff, 0xff, 0xff, 0x0f, 0x01]);
        CliResult.Run("estimate", file).AssertBadInput("broken.onnx");
        CliResult.Run("arch", "show", file).AssertBadInput("broken.onnx");
        Assert.Equal([0x08, 0x07, 0x12, 0xff, 0xff, 0xff, 0x0f, 0x01], File.ReadAllBytes(file));
    }
}

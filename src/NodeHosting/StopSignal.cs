namespace NasCluster.NodeHosting;

/// <summary>
/// Ctrl+C or SIGTERM as a task, for long-lived processes (nodes, <c>serve</c>) that stop on their own
/// terms instead of dying: the signal is cancelled and <see cref="Requested"/> completes.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConsoleCancelEventHandler _onCancel;
    private readonly System.Runtime.InteropServices.PosixSignalRegistration _sigterm;

    public StopSignal()
    {
        _onCancel = (_, e) =>
        {
            e.Cancel = true;
            _stop.TrySetResult();
        };
        Console.CancelKeyPress += _onCancel;
        _sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            _stop.TrySetResult();
        });
    }

    /// <summary>Completes on the first Ctrl+C or SIGTERM.</summary>
    public Task Requested => _stop.Task;

    public void Dispose()
    {
        Console.CancelKeyPress -= _onCancel;
        _sigterm.Dispose();
    }
}

using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using NasCluster.Cost.V1;

namespace NasCluster.EvaluatorNode.Service;

/// <summary>
/// Binds the CostService methods with request marshallers that turn bytes which are not a valid message
/// into <c>INVALID_ARGUMENT</c> naming the message type (gRPC's generated marshallers let the parse error
/// escape, which the framework answers as UNKNOWN, "exception was thrown by handler"). Used through
/// <see cref="BindServiceMethodAttribute"/> on <see cref="CostGrpcService"/>, so server reflection still
/// finds the service's descriptor here.
/// </summary>
public static class SafeCostServiceBinding
{
    /// <summary>Read by server reflection.</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => CostService.Descriptor;

    private static readonly string Name = CostService.Descriptor.FullName;

    /// <summary>Called by Grpc.AspNetCore with a null implementation: it resolves the service per call.</summary>
    public static void BindService(ServiceBinderBase binder, CostService.CostServiceBase? service)
    {
        _ = service;
        binder.AddMethod(Method(MethodType.Unary, "GetCapabilities", GetCapabilitiesRequest.Parser, Marshal<Capabilities>()),
            (UnaryServerMethod<GetCapabilitiesRequest, Capabilities>?)null);
        binder.AddMethod(Method(MethodType.Unary, "Evaluate", EvaluateRequest.Parser, Marshal<EvaluateResponse>()),
            (UnaryServerMethod<EvaluateRequest, EvaluateResponse>?)null);
        binder.AddMethod(Method(MethodType.Unary, "EvaluateBatch", EvaluateBatchRequest.Parser, Marshal<EvaluateBatchResponse>()),
            (UnaryServerMethod<EvaluateBatchRequest, EvaluateBatchResponse>?)null);
        binder.AddMethod(Method(MethodType.DuplexStreaming, "EvaluateStream", EvaluateStreamRequest.Parser, Marshal<EvaluateStreamResponse>()),
            (DuplexStreamingServerMethod<EvaluateStreamRequest, EvaluateStreamResponse>?)null);
    }

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, string name, MessageParser<TRequest> parser, Marshaller<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(type, Name, name, SafeRequest(parser), response);

    /// <summary>A request marshaller whose parse failure is the client's fault, reported as such.</summary>
    public static Marshaller<T> SafeRequest<T>(MessageParser<T> parser) where T : class, IMessage<T> =>
        new((m, ctx) => ctx.Complete(m.ToByteArray()), ctx =>
        {
            try
            {
                return parser.ParseFrom(ctx.PayloadAsReadOnlySequence());
            }
            catch (InvalidProtocolBufferException e)
            {
                var type = parser.ParseFrom(ByteString.Empty).Descriptor.FullName;
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"the request is not a valid {type} message: {e.Message}"));
            }
        });

    private static Marshaller<T> Marshal<T>() where T : class, IMessage<T>, new() =>
        new((m, ctx) =>
        {
            ctx.SetPayloadLength(m.CalculateSize());
            m.WriteTo(ctx.GetBufferWriter());
            ctx.Complete();
        }, ctx => new MessageParser<T>(() => new T()).ParseFrom(ctx.PayloadAsReadOnlySequence()));
}

/// <summary>
/// Refuses unary requests larger than the published limit with <c>RESOURCE_EXHAUSTED</c> naming it
/// (the stream checks each message itself). The framework's own, higher limit stops far larger
/// messages before they are read.
/// </summary>
public sealed class RequestSizeInterceptor(CostServiceLimits limits) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (request is IMessage m) Check(m.CalculateSize(), limits.MaxRequestBytes);
        return continuation(request, context);
    }

    public static void Check(int size, int limit)
    {
        if (size > limit)
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"the request is {size} bytes; the limit is {limit} bytes (Capabilities.max_request_bytes; `serve --max-request-mb`)"));
    }
}

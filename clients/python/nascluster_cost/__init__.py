"""A small Python client of the NasCluster cost service (gRPC nascluster.cost.v1).

    from nascluster_cost import CostClient
    with CostClient("127.0.0.1:50051") as cost:
        r = cost.evaluate(space="mnv2-edgetpu-classification", decisions={"stem_kernel": 3, ...})
        print(r.latency_ms, r.energy_mj, r.cached)

The stubs are generated from the repository's proto/nascluster/cost/v1/cost.proto with grpc_tools
(Debian's python3-grpc-tools) the first time the package is imported, into nascluster_cost/_generated
(not committed: the .proto is the one source). Needs Debian's python3-grpcio: run with /usr/bin/python3.
"""
import importlib
import os
import sys

import grpc

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_ROOT = os.environ.get("NASCLUSTER_PROTO_ROOT", os.path.join(_HERE, "..", "..", "..", "proto"))
_PROTO = os.path.join("nascluster", "cost", "v1", "cost.proto")
_OUT = os.path.join(_HERE, "_generated")


def _stubs():
    target = os.path.join(_OUT, "nascluster", "cost", "v1", "cost_pb2.py")
    source = os.path.join(_PROTO_ROOT, _PROTO)
    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
        from grpc_tools import protoc
        os.makedirs(_OUT, exist_ok=True)
        code = protoc.main(["grpc_tools.protoc", "-I" + _PROTO_ROOT, "--python_out=" + _OUT, "--grpc_python_out=" + _OUT, source])
        if code != 0:
            raise RuntimeError(f"protoc could not compile {source} (exit {code})")
    if _OUT not in sys.path:
        sys.path.insert(0, _OUT)
    return importlib.import_module("nascluster.cost.v1.cost_pb2"), importlib.import_module("nascluster.cost.v1.cost_pb2_grpc")


pb, pb_grpc = _stubs()

_FIDELITY = {"analytical": pb.FIDELITY_ANALYTICAL, "detailed": pb.FIDELITY_DETAILED}


class CostError(Exception):
    """The service refused one request: its gRPC status code, the offending field and the reason."""

    def __init__(self, code, field, message):
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


def _value(v):
    if isinstance(v, bool):
        raise TypeError("a decision value is an int, a float or a str")
    if isinstance(v, int):
        return pb.DecisionValue(integer=v)
    if isinstance(v, float):
        return pb.DecisionValue(real=v)
    return pb.DecisionValue(text=str(v))


def request(space=None, decisions=None, indices=None, space_json=None, arch_json=None, onnx=None, zoo=None,
            hardware="pixel6", hardware_json=None, fidelity="analytical", layers=False):
    """An EvaluateRequest: exactly one network form (space + decisions/indices, arch_json, onnx bytes, zoo)."""
    network = pb.NetworkSource()
    if arch_json is not None:
        network.arch_json = arch_json
    elif onnx is not None:
        network.onnx_model = onnx if isinstance(onnx, bytes) else open(onnx, "rb").read()
    elif zoo is not None:
        network.zoo_model = zoo
    else:
        c = pb.SpaceCandidate()
        if space_json is not None:
            c.space_json = space_json
        else:
            c.built_in_space = space or ""
        for name, v in (decisions or {}).items():
            c.decisions[name].CopyFrom(_value(v))
        c.choice_indices.extend(indices or [])
        network.candidate.CopyFrom(c)
    hw = pb.HardwareSource(hardware_json=hardware_json) if hardware_json else pb.HardwareSource(preset=hardware)
    return pb.EvaluateRequest(network=network, hardware=hw, fidelity=_FIDELITY[fidelity], layers=layers)


class CostClient:
    """A channel to one cost server (plaintext, TLS, or mutual TLS) and the four calls."""

    def __init__(self, target, root_certificates=None, private_key=None, certificate_chain=None, timeout=60.0):
        if root_certificates is None:
            self._channel = grpc.insecure_channel(target)
        else:
            creds = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, creds)
        self._stub = pb_grpc.CostServiceStub(self._channel)
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._channel.close()

    def capabilities(self):
        return self._stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=self.timeout)

    def evaluate(self, timeout=None, **kwargs):
        """Prices one network (keyword arguments as `request`); raises CostError on a bad request."""
        try:
            return self._stub.Evaluate(request(**kwargs), timeout=timeout or self.timeout).result
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                detail = e.details() or ""
                raise CostError(e.code(), detail.split(":", 1)[0], detail) from None
            raise

    def evaluate_many(self, requests, timeout=None):
        """One EvaluateBatch: a list with a CostResult or a CostError per request, in order."""
        answer = self._stub.EvaluateBatch(pb.EvaluateBatchRequest(items=list(requests)), timeout=timeout or self.timeout)
        return [_outcome(i) for i in answer.items]

    def stream(self, requests, timeout=None):
        """EvaluateStream over (request_id, EvaluateRequest) pairs: yields (request_id, CostResult or CostError) as each finishes."""
        messages = (pb.EvaluateStreamRequest(request_id=str(rid), request=r) for rid, r in requests)
        for a in self._stub.EvaluateStream(messages, timeout=timeout or self.timeout):
            yield a.request_id, _outcome(a.item)


def _outcome(item):
    if item.WhichOneof("outcome") == "result":
        return item.result
    return CostError(item.error.code, item.error.field, item.error.message)

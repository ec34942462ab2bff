#!/usr/bin/python3
"""Stream nsguard events from Python with plain gRPC (grpcio), like any Tetragon client.

No generated Python is committed: the schema comes from the repository's proto/ (package
`tetragon`, Tetragon's field numbers) as a descriptor set built by `buf build`, and the message
classes are made from it at start-up. (Debian's grpc_tools ships protoc 3.5, which predates
proto3 `optional`, so it cannot compile these files.)

    /usr/bin/python3 examples/python-client/getevents.py --address localhost:54321 --max-events 5

Needs Debian's python3-grpcio and python3-protobuf (installed by scripts/bootstrap.sh); use
/usr/bin/python3, which sees Debian's packages.
"""
import argparse
import os
import subprocess
import sys

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUF = os.path.join(REPO, "node_modules", ".bin", "buf")


def load_schema():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    image = subprocess.run([BUF, "build", "-o", "-"], cwd=REPO, check=True, capture_output=True).stdout
    files = descriptor_pb2.FileDescriptorSet.FromString(image)  # a buf image is a FileDescriptorSet
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    factory = message_factory.MessageFactory(pool)
    return lambda name: factory.GetPrototype(pool.FindMessageTypeByName(name))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:54321", help="host:port or unix:///path")
    parser.add_argument("--max-events", type=int, default=0, help="stop after this many events")
    parser.add_argument("--policy", action="append", default=[], help="only events of this policy")
    args = parser.parse_args()

    import grpc
    from google.protobuf.json_format import MessageToJson

    message = load_schema()
    Request, Response = message("tetragon.GetEventsRequest"), message("tetragon.GetEventsResponse")
    request = Request()
    if args.policy:
        request.allow_list.add(policy_names=args.policy)
    with grpc.insecure_channel(args.address) as channel:
        get_events = channel.unary_stream(
            "/tetragon.FineGuidanceSensors/GetEvents",
            request_serializer=Request.SerializeToString,
            response_deserializer=Response.FromString,
        )
        try:
            for count, event in enumerate(get_events(request), start=1):
                # Tetragon's JSON: proto field names, one object a line.
                print(MessageToJson(event, preserving_proto_field_name=True, indent=None), flush=True)
                if count == args.max_events:
                    break
        except grpc.RpcError as err:
            sys.exit(f"GetEvents failed: {err.code().name}: {err.details()}")


if __name__ == "__main__":
    main()

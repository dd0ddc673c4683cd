#!/usr/bin/env python3
"""Generates the Python stubs of the jembatan.v1 contract from proto/ with grpcio-tools.

    python gen_stubs.py [--proto DIR] [--out DIR]

By default reads the repository's proto/ and writes into generated/ beside this file (git
ignored); the scripts find the stubs there, or where --stubs or JEMBATAN_STUBS says.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto", type=Path, default=HERE.parent.parent / "proto",
                        help="the contract's root folder (default: the repository's proto/)")
    parser.add_argument("--out", type=Path, default=HERE / "generated",
                        help="where to write the stubs (default: generated/ beside this file)")
    args = parser.parse_args()
    try:
        from grpc_tools import protoc
    except ImportError:
        print("error: grpcio-tools is not installed: pip install -r requirements.txt",
              file=sys.stderr)
        return 1
    protos = sorted(args.proto.glob("jembatan/v1/*.proto"))
    if not protos:
        print(f"error: no jembatan/v1/*.proto under {args.proto}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    # protoc's own include folder holds google/protobuf/timestamp.proto.
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    command = [
        "grpc_tools.protoc",
        f"-I{args.proto}",
        f"-I{well_known}",
        f"--python_out={args.out}",
        f"--grpc_python_out={args.out}",
        *(str(p.relative_to(args.proto)) for p in protos),
    ]
    if protoc.main(command) != 0:
        print("error: protoc failed (see above)", file=sys.stderr)
        return 1
    print(f"generated {len(protos)} files' stubs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`jobctl-fake-oci`: serve the fake OCI API on 127.0.0.1 until Ctrl-C.

Example::

    python -m jobctl.testing.fake_oci --port 8765 --write-config /tmp/fake-oci
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from pathlib import Path

from jobctl.testing.fake_oci.errors import ApiError
from jobctl.testing.fake_oci.fake import FakeOCI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobctl-fake-oci",
        description="A stateful fake of OCI Data Science Jobs and Pipelines, Data Flow, Logging Search and Object "
                    "Storage on 127.0.0.1, for offline tests.",
        epilog="example: jobctl-fake-oci --port 8765 --write-config /tmp/fake-oci",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--write-config", metavar="DIR", type=Path,
                        help="generate a throwaway API key, write DIR/config and accept requests signed with it")
    parser.add_argument("--profile", default="DEFAULT", help="profile name in the written config (default: DEFAULT)")
    parser.add_argument("--region", default="us-ashburn-1", help="region in the written config and in OCIDs")
    parser.add_argument("--no-verify-signatures", action="store_true",
                        help="accept requests without checking their signature")
    parser.add_argument("--no-auto-progress", action="store_true",
                        help="do not advance a job run on each GET of it")
    parser.add_argument("--log-lag", type=float, default=0.0, metavar="SECONDS",
                        help="delay before a run's log records become searchable")
    parser.add_argument("--seed", type=int, default=0, help="seed for OCIDs and fault rates")
    parser.add_argument("--namespace", default="fakenamespace",
                        help="the Object Storage namespace GetNamespace answers (default: fakenamespace)")
    parser.add_argument("--bucket", action="append", default=[], metavar="[NAMESPACE/]NAME",
                        help="create this bucket at start (repeatable); objects need their bucket to exist")
    parser.add_argument("--run-code", action="store_true",
                        help="run each job run's uploaded code (its artifact, in a process of its own here) as OCI "
                             "would, and each Data Flow run's code on local Spark (the spark extra), instead of "
                             "printing their environment: workflows select and pass values for real")
    return parser


def main(argv: Sequence[str] | None = None, stop: threading.Event | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.write_config is None and not args.no_verify_signatures:
        parser.error("pass --write-config DIR (a key the fake accepts) or --no-verify-signatures")
    fake = FakeOCI(port=args.port, region=args.region, seed=args.seed, auto_progress=not args.no_auto_progress,
                   verify_signatures=not args.no_verify_signatures, log_lag=args.log_lag, namespace=args.namespace)
    if args.run_code:
        import tempfile

        from jobctl.testing.fake_oci.dataflow_workload import spark_workload
        from jobctl.testing.fake_oci.workloads import artifact_workload

        fake.workload = artifact_workload(fake)
        spark_home = tempfile.TemporaryDirectory(prefix="jobctl-fake-spark-")  # removed when the fake exits
        fake.dataflow_workload = spark_workload(fake, spark_home.name)
    for bucket in args.bucket:
        namespace, _, name = bucket.rpartition("/")
        try:
            fake.create_bucket(name, namespace=namespace or None)
        except ApiError as error:
            parser.error(f"--bucket {bucket}: {error.message}")
    try:
        fake.start()
    except OSError as error:
        parser.exit(1, f"jobctl-fake-oci: cannot listen on 127.0.0.1:{args.port}: {error.strerror}\n")
    try:
        config = None if args.write_config is None else fake.write_config(args.write_config, profile=args.profile)
        print(f"Fake OCI listening on {fake.url}", flush=True)
        if config is not None:
            print(f"Wrote {config} (profile {args.profile}); its key is accepted by this fake.", flush=True)
            print("Point jobctl at it with:", flush=True)
            print(f"  export OCI_CLI_CONFIG_FILE={config}", flush=True)
            print(f"  export JOBCTL_OCI_ENDPOINT={fake.url}", flush=True)
            print(f"  or: jobctl <command> --backend oci --config-file {config} --profile {args.profile} "
                  f"--endpoint {fake.url} ...", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""python -m runwatch sync [--url URL] [--token T] [--timeout S]: deliver spooled leftovers."""
import argparse
import logging
import sys

from ._sync import sync


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m runwatch")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sync", help="send events that earlier processes left in the spool")
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--spool-dir")
    p.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = sync(args.url, args.token, args.spool_dir, args.timeout)
    for run_id, ok in results.items():
        print("%s: %s" % (run_id, "delivered" if ok else "still pending"))
    if not results:
        print("nothing to send")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

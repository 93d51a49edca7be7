"""An evaluation harness streamed to Runwatch: one `result` per item, running metrics, progress.

    python3 examples/eval_loop.py [--items 200] [--run-id ID] [--url URL]

The "model" is a deterministic stand-in (arithmetic questions answered with occasional mistakes),
so the example needs nothing but the standard library.
"""
import argparse
import random
import time

import _path  # noqa: F401
import runwatch


def answer(question, rng):
    a, b = question
    return a + b if rng.random() > 0.15 else a + b + rng.choice((-1, 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.005, help="seconds per item")
    parser.add_argument("--run-id")
    parser.add_argument("--url")
    args = parser.parse_args()
    rng = random.Random(1)
    questions = [(rng.randint(0, 99), rng.randint(0, 99)) for _ in range(args.items)]

    with runwatch.init("arithmetic eval", kind="evaluation", run_id=args.run_id, url=args.url,
                       config={"dataset": "synthetic-addition", "items": args.items, "model": "stand-in"},
                       total_steps=args.items) as run:
        print("run", run.id, flush=True)
        correct = 0
        started = time.monotonic()
        for i, (a, b) in enumerate(questions, 1):
            t0 = time.perf_counter()
            got = answer((a, b), rng)
            time.sleep(args.delay)
            ok = got == a + b
            correct += ok
            run.result(id=i, question="%d+%d" % (a, b), expected=a + b, got=got, correct=ok,
                       latency_s=round(time.perf_counter() - t0, 4))
            if not ok:
                run.warning("item %d: %d+%d answered %d" % (i, a, b, got))
            if i % 10 == 0 or i == args.items:
                elapsed = time.monotonic() - started
                run.log({"accuracy": correct / i, "items_per_second": i / elapsed}, step=i)
                run.progress(completed=i, total=args.items, eta_s=elapsed / i * (args.items - i))
        run.event("quality_check", {"quality_score": correct / args.items, "passed": correct / args.items > 0.8})
        run.finish(summary={"accuracy": correct / args.items, "items": args.items})
        print("accuracy %.3f" % (correct / args.items), flush=True)


if __name__ == "__main__":
    main()

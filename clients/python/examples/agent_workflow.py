"""An agent workflow streamed to Runwatch: steps (retrieve, plan, tool calls, answer) with progress,
a token stream for the answer, and a step that fails and is retried.

    python3 examples/agent_workflow.py [--run-id ID] [--url URL]
"""
import argparse
import random
import time

import _path  # noqa: F401
import runwatch

ANSWER = ("Runwatch streams events from a producer thread that never blocks; a daemon thread "
          "batches them to the server and keeps them on disk while the server is away.")


class FlakyTool(Exception):
    pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=1.0, help="> 1 runs faster")
    parser.add_argument("--run-id")
    parser.add_argument("--url")
    args = parser.parse_args()
    pause = lambda s: time.sleep(s / args.speed)  # noqa: E731
    rng = random.Random(7)

    with runwatch.init("research agent", kind="workflow", run_id=args.run_id, url=args.url,
                       config={"model": "stand-in-llm", "tools": ["search", "calculator"]}) as run:
        print("run", run.id, flush=True)
        with run.step("retrieve", name="Retrieve documents") as s:
            for i in range(1, 5):
                pause(0.05)
                s.progress(i / 4, "%d of 4 sources" % i)
            s.result = {"documents": 12}

        with run.step("plan", name="Plan") as s:
            pause(0.05)
            s.result = {"steps": ["search", "calculate", "answer"]}

        for attempt in (1, 2):
            try:
                with run.step("tool-search-%d" % attempt, name="search (attempt %d)" % attempt) as s:
                    pause(0.05)
                    if attempt == 1:
                        raise FlakyTool("search backend timed out")
                    s.result = {"hits": 3}
                break
            except FlakyTool as e:
                run.warning("retrying search: %s" % e)

        run.event("agent_spawned", {"agent": "calculator", "parent": "research agent"})
        with run.step("calculate", name="Calculator sub-agent") as s:
            pause(0.05)
            s.result = {"value": 42}

        with run.step("answer", name="Write the answer") as s:
            words = ANSWER.split(" ")
            for i, word in enumerate(words):
                run.token(word + (" " if i + 1 < len(words) else ""), stream="answer")
                pause(0.01 + rng.random() * 0.01)
                if i % 5 == 0:
                    s.progress((i + 1) / len(words))
            s.result = {"chars": len(ANSWER)}
        run.event("quality_check", {"quality_score": 0.93})
        run.info("done")
    print("finished", flush=True)


if __name__ == "__main__":
    main()

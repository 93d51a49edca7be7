"""A real PyTorch training loop (CPU, generated data, ~10 s) streamed to Runwatch.

    python3 examples/train_torch.py [--epochs 4] [--run-id ID] [--url http://127.0.0.1:7600]

Streams loss, lr and samples_per_second every step, eval_loss and eval_accuracy every epoch, and
progress by step and epoch. Needs torch (Debian: apt-get install python3-torch).
"""
import argparse
import math
import time

import _path  # noqa: F401
import runwatch

import torch
from torch import nn


def make_data(n, generator):
    """Two interleaved spirals with noise: a classification problem an MLP learns in seconds."""
    t = torch.rand(n, generator=generator) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=generator)
    sign = label.float() * 2 - 1
    x = torch.stack([t * torch.cos(t) * sign, t * torch.sin(t) * sign], dim=1) / 5
    x = x + 0.05 * torch.randn(n, 2, generator=generator)
    return x, label


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--run-id")
    parser.add_argument("--url")
    parser.add_argument("--no-runwatch", action="store_true",
                        help="train without streaming (to measure what Runwatch costs the loop)")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(0)
    x_train, y_train = make_data(8192, gen)
    x_eval, y_eval = make_data(2048, gen)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total_steps)
    loss_fn = nn.CrossEntropyLoss()
    config = {"model": "mlp-2x64", "optimizer": "AdamW", "lr": args.lr, "batch_size": args.batch_size,
              "epochs": args.epochs, "train_samples": len(x_train), "torch": torch.__version__}

    started = time.perf_counter()
    if args.no_runwatch:
        run = _NoRun()
    else:
        run = runwatch.init("torch spirals", kind="training", config=config, run_id=args.run_id,
                            total_steps=total_steps, total_epochs=args.epochs, url=args.url)
    with run:
        print("run", run.id, flush=True)
        step = 0
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=gen)
            for i in range(0, len(x_train), args.batch_size):
                t0 = time.perf_counter()
                idx = order[i:i + args.batch_size]
                loss = loss_fn(model(x_train[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                step += 1
                run.log({"loss": loss.item(), "lr": scheduler.get_last_lr()[0],
                         "samples_per_second": len(idx) / (time.perf_counter() - t0)}, step=step)
                run.progress(completed=step, total=total_steps, epoch=epoch + (i + len(idx)) / len(x_train),
                             total_epochs=args.epochs)
            model.eval()
            with torch.no_grad():
                logits = model(x_eval)
                eval_loss = loss_fn(logits, y_eval).item()
                accuracy = (logits.argmax(1) == y_eval).float().mean().item()
            run.log({"eval_loss": eval_loss, "eval_accuracy": accuracy}, step=step)
            run.info("epoch %d: eval_loss %.4f, accuracy %.3f" % (epoch + 1, eval_loss, accuracy))
            print("epoch %d: loss %.4f eval_loss %.4f accuracy %.3f" % (epoch + 1, loss.item(), eval_loss, accuracy),
                  flush=True)
    print("training loop %.3f s" % (time.perf_counter() - started), flush=True)
    if not args.no_runwatch:
        print("delivered" if run.stats()["spooled"] == 0 else "spooled (server unreachable)", flush=True)


class _NoRun:
    """Stands in for a run when --no-runwatch is given: every call does nothing."""
    id = "-"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


if __name__ == "__main__":
    main()

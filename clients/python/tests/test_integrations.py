"""Framework adapters against the frameworks' documented hook signatures, without the frameworks:
the hooks are called the way transformers' Trainer, Lightning's Trainer and Keras' fit() call
them, and the events that reach a real server are checked."""
import subprocess
import sys
import types
import unittest

from support import ROOT, ServerMixin, runwatch


class Obj(types.SimpleNamespace):
    pass


def types_of(events):
    return [e["type"] for e in events]


class Integrations(ServerMixin):

    def test_nothing_is_imported_until_used(self):
        code = ("import sys, runwatch; assert 'runwatch.integrations' not in sys.modules;"
                "import runwatch.integrations.huggingface as h, runwatch.integrations.keras as k,"
                " runwatch.integrations.lightning as l;"
                "assert h._class is None and k._class is None and l._class is None;"
                "assert not any(m in sys.modules for m in ('transformers', 'keras', 'tensorflow', 'lightning', 'torch'));"
                "print('ok')")
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "ok", out.stderr)

    def test_huggingface_callback(self):
        from runwatch.integrations import huggingface
        cb = huggingface.RunwatchCallback(url=self.server.url, run_id="hf-run")
        self.assertIs(type(cb), huggingface.RunwatchCallback)
        args = Obj(run_name="bert-ft", num_train_epochs=2, output_dir="/tmp/x",
                   to_dict=lambda: {"learning_rate": 3e-5, "num_train_epochs": 2, "report_to": ["none"]})
        state = Obj(global_step=0, max_steps=20, epoch=0.0, num_train_epochs=2, is_world_process_zero=True)
        control = Obj()
        model = Obj(config=Obj(to_dict=lambda: {"hidden_size": 8}))
        cb.on_init_end(args, state, control)
        cb.on_train_begin(args, state, control, model=model)
        for step in range(1, 21):
            state.global_step, state.epoch = step, step / 10
            cb.on_step_begin(args, state, control)
            cb.on_step_end(args, state, control)
            if step % 5 == 0:
                cb.on_log(args, state, control, logs={"loss": 1.0 / step, "learning_rate": 3e-5, "epoch": state.epoch,
                                                      "grad_norm": Obj(item=lambda: 0.5), "note": "text"})
            if step % 10 == 0:
                cb.on_epoch_end(args, state, control)
                cb.on_evaluate(args, state, control, metrics={"eval_loss": 2.0 / step, "epoch": state.epoch})
        cb.on_log(args, state, control, logs={"train_runtime": 12.5, "train_loss": 0.3})
        cb.on_train_end(args, state, control)
        self.assertTrue(cb.run.finished)

        events = self.server.events("hf-run")
        self.assertEqual(events[0]["type"], "run_started")
        self.assertEqual(events[0]["data"]["name"], "bert-ft")
        self.assertEqual(events[0]["data"]["config"]["learning_rate"], 3e-5)
        self.assertEqual(events[0]["data"]["config"]["model"], {"hidden_size": 8})
        self.assertEqual(events[0]["data"]["total_steps"], 20)
        self.assertEqual(events[-1]["type"], "run_completed")
        self.assertEqual(events[-1]["data"]["summary"]["train_loss"], 0.3)
        metrics = [e["data"] for e in events if e["type"] == "metric"]
        self.assertEqual(metrics[0], {"loss": 1.0 / 5, "learning_rate": 3e-5, "grad_norm": 0.5, "step": 5})
        self.assertEqual([m["step"] for m in metrics if "eval_loss" in m], [10, 20])
        progress = [e["data"] for e in events if e["type"] == "progress"]
        self.assertEqual(progress[0]["completed"], 0)
        self.assertEqual(progress[-1], {"completed": 20, "total": 20, "epoch": 2.0, "total_epochs": 2})
        summary = self.server.run("hf-run")
        self.assertEqual(summary["status"], "completed")
        self.assertEqual(summary["progress"], 1.0)

    def test_huggingface_callback_other_ranks_stay_silent_and_given_run_is_not_finished(self):
        from runwatch.integrations import huggingface
        run = runwatch.init("hf-given", url=self.server.url)
        cb = huggingface.RunwatchCallback(run=run)
        args = Obj(run_name=None, num_train_epochs=1)
        state = Obj(global_step=3, max_steps=3, epoch=1.0, num_train_epochs=1, is_world_process_zero=True)
        cb.on_train_begin(args, state, Obj())
        cb.on_log(args, Obj(global_step=3, is_world_process_zero=False), Obj(), logs={"loss": 9.0})
        cb.on_log(args, state, Obj(), logs={"loss": 1.0})
        cb.on_train_end(args, state, Obj())
        self.assertFalse(run.finished)
        self.assertTrue(run.finish(timeout=10))
        events = self.server.events(run.id)
        self.assertEqual([e["data"] for e in events if e["type"] == "metric"], [{"loss": 1.0, "step": 3}])

    def test_huggingface_callback_derives_from_transformers_when_present(self):
        from runwatch.integrations import huggingface
        fake = types.ModuleType("transformers")

        class TrainerCallback:
            pass
        fake.TrainerCallback = TrainerCallback
        saved, huggingface._class = huggingface._class, None
        sys.modules["transformers"] = fake
        try:
            cls = huggingface.RunwatchCallback
            self.assertTrue(issubclass(cls, TrainerCallback))
        finally:
            del sys.modules["transformers"]
            huggingface._class = saved

    def test_lightning_logger(self):
        from runwatch.integrations import lightning
        logger = lightning.RunwatchLogger("lit-model", run_id="lit-run", url=self.server.url)
        self.assertEqual(logger.name, "lit-model")
        self.assertEqual(logger.version, "lit-run")
        import argparse
        logger.log_hyperparams(argparse.Namespace(lr=0.01, hidden=[32, 32]))
        logger.log_hyperparams({"batch_size": 64})
        for step in range(0, 50, 10):
            logger.log_metrics({"train_loss": 1.0 / (step + 1), "epoch": step // 25}, step=step)
        logger.log_metrics({"val_loss": 0.7, "val_acc": Obj(item=lambda: 0.8)}, step=49)
        logger.log_graph(None)
        logger.save()
        logger.finalize("success")
        self.assertIs(logger.experiment, logger._run)
        self.assertEqual(self.server.wait_for(lambda: self.server.run("lit-run")["status"] == "completed"), True)
        logger.log_metrics({"test_acc": 0.9}, step=50)  # trainer.test() after fit still logs
        self.assertTrue(logger.experiment.finish(timeout=10))
        events = self.server.events("lit-run")
        self.assertEqual(events[0]["data"]["config"], {"lr": 0.01, "hidden": [32, 32]})
        self.assertEqual(events[1]["type"], "run_started")
        self.assertEqual(events[1]["data"]["config"], {"lr": 0.01, "hidden": [32, 32], "batch_size": 64})
        metrics = [e["data"] for e in events if e["type"] == "metric"]
        self.assertEqual(metrics[0], {"train_loss": 1.0, "step": 0})
        self.assertEqual(metrics[-2], {"val_loss": 0.7, "val_acc": 0.8, "step": 49})
        self.assertEqual(metrics[-1], {"test_acc": 0.9, "step": 50})
        self.assertIn({"completed": 40, "epoch": 1}, [e["data"] for e in events if e["type"] == "progress"])
        self.assertEqual(types_of(events)[-3:], ["run_status", "metric", "run_completed"])
        summary = self.server.run("lit-run")
        self.assertEqual(summary["status"], "completed")
        self.assertEqual(summary["config"]["batch_size"], 64)

    def test_lightning_finalize_failed_and_aborted(self):
        from runwatch.integrations import lightning
        failed = lightning.RunwatchLogger("lit", run_id="lit-failed", url=self.server.url)
        failed.log_metrics({"loss": 1.0}, step=1)
        failed.finalize("failed")
        self.assertEqual(self.server.run("lit-failed")["status"], "failed")
        aborted = lightning.RunwatchLogger("lit", run_id="lit-aborted", url=self.server.url)
        aborted.log_metrics({"loss": 1.0}, step=1)
        aborted.finalize("aborted")
        self.assertEqual(self.server.run("lit-aborted")["status"], "cancelled")
        aborted.experiment.finish(timeout=5)

    def test_keras_callback(self):
        from runwatch.integrations import keras
        cb = keras.RunwatchKerasCallback("mnist-mlp", run_id="keras-run", url=self.server.url,
                                         config={"optimizer": "adam"}, log_batches=True, progress_interval=0)
        cb.set_model(Obj(name="mlp"))
        cb.set_params({"verbose": 1, "epochs": 2, "steps": 3})
        cb.on_train_begin(logs={})
        for epoch in range(2):
            cb.on_epoch_begin(epoch, logs={})
            for batch in range(3):
                cb.on_train_batch_begin(batch, logs={})
                cb.on_train_batch_end(batch, logs={"loss": 1.0 - 0.1 * (epoch * 3 + batch), "accuracy": 0.5})
            cb.on_test_begin(logs={})
            cb.on_test_end(logs={"loss": 0.9})
            cb.on_epoch_end(epoch, logs={"loss": 0.8 - 0.1 * epoch, "accuracy": 0.6, "val_loss": 0.85 - 0.1 * epoch})
        cb.on_train_end(logs={"loss": 0.7})
        events = self.server.events("keras-run")
        self.assertEqual(events[0]["data"]["config"], {"optimizer": "adam", "epochs": 2, "steps_per_epoch": 3})
        self.assertEqual(events[0]["data"]["total_steps"], 6)
        self.assertEqual(events[0]["data"]["total_epochs"], 2)
        epoch_metrics = [e["data"] for e in events if e["type"] == "metric" and "val_loss" in e["data"]]
        self.assertEqual(epoch_metrics, [{"loss": 0.8, "accuracy": 0.6, "val_loss": 0.85, "step": 3},
                                         {"loss": 0.7000000000000001, "accuracy": 0.6, "val_loss": 0.75, "step": 6}])
        batch_metrics = [e["data"] for e in events if e["type"] == "metric" and "batch_loss" in e["data"]]
        self.assertEqual([m["step"] for m in batch_metrics], [1, 2, 3, 4, 5, 6])
        progress = [e["data"] for e in events if e["type"] == "progress"]
        self.assertEqual(progress[-1], {"completed": 6, "total": 6, "epoch": 2, "total_epochs": 2})
        self.assertEqual(events[-1]["type"], "run_completed")
        self.assertEqual(events[-1]["data"]["summary"], {"loss": 0.7})
        self.assertEqual(self.server.run("keras-run")["progress"], 1.0)


if __name__ == "__main__":
    unittest.main()

"""Kernel > Interrupt on a live tslab kernel, through Jupyter's own interrupt request (jupyter_client).

    python3 kernel-setup/interrupt_check.py <repo root> <run dir>

Starts the tslab kernel (JUPYTER_PATH must name the project's kernelspec), trains a tiny teacher in one cell into
<run dir>, and once metrics.jsonl has grown a few lines sends `KernelManager.interrupt_kernel()` (what JupyterLab's
Kernel > Interrupt sends: the kernelspec's interrupt_mode, here "signal", i.e. SIGINT to the kernel's process
group). Then checks nothing itself: it prints one JSON object with what a user would see (the interrupted cell's
reply and outputs, whether the kernel still answers, metrics.jsonl's line counts right after and 3 s after the
reply, and the reply and outputs of the same cell run again with resume), and test/notebooks/interrupt.test.ts
asserts on it.
"""
import json
import os
import sys
import time

from jupyter_client.manager import KernelManager

root, run_dir = sys.argv[1], sys.argv[2]
lib = os.path.join(root, "lib", "index.js")
metrics = os.path.join(run_dir, "teacher", "metrics.jsonl")

SETUP = f"""
import {{ resolveConfig, trainTeacher }} from {json.dumps(lib)};
process.chdir({json.dumps(root)});
const cfg = resolveConfig('tiny', {{
  data: {{ corpus: 'conll2002', source: 'es', targets: ['nl'], limit: {{ train: 4000, dev: 50, test: 50 }} }},
  teacher: {{ epochs: 1 }},
  run: {{ outDir: {json.dumps(run_dir)}, logEvery: 1, seed: 7 }},
}});
"""
TRAIN = """
const t = await trainTeacher(cfg, { resume: true, onProgress: (e) => { if (e.kind !== 'step') console.log(e.message); } });
console.log(`finished at step ${t.state.globalStep}`);
"""


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def run_cell(kc, code, timeout, on_wait=None):
    """Executes code; returns (reply content, outputs). on_wait() runs while waiting, until it returns True."""
    msg_id = kc.execute(code)
    outputs = []
    done_waiting = on_wait is None
    deadline = time.time() + timeout
    reply = None
    idle = False
    while time.time() < deadline and not (reply is not None and idle):
        if not done_waiting:
            done_waiting = on_wait()
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
            if msg["parent_header"].get("msg_id") == msg_id:
                t = msg["msg_type"]
                c = msg["content"]
                if t == "stream":
                    outputs.append({"type": "stream", "name": c["name"], "text": c["text"]})
                elif t in ("display_data", "execute_result", "error"):
                    outputs.append({"type": t, "content": c})
                elif t == "status" and c["execution_state"] == "idle":
                    idle = True
        except Exception:
            pass
        if reply is None:
            try:
                r = kc.get_shell_msg(timeout=0.05)
                if r["parent_header"].get("msg_id") == msg_id:
                    reply = r["content"]
            except Exception:
                pass
    return reply, outputs


km = KernelManager(kernel_name="tslab")
km.start_kernel(cwd=root)
report = {}
try:
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    reply, outs = run_cell(kc, SETUP, 180)
    report["setup"] = {"reply": reply, "outputs": outs}

    sent = {}

    def interrupt_when_training():
        if lines(metrics) >= 5:
            sent["lines"] = lines(metrics)
            sent["at"] = time.time()
            km.interrupt_kernel()
            return True
        return False

    reply, outs = run_cell(kc, TRAIN, 600, interrupt_when_training)
    report["interrupt"] = {
        "sent": "lines" in sent,
        "linesWhenSent": sent.get("lines"),
        "replySeconds": time.time() - sent.get("at", time.time()),
        "reply": reply,
        "outputs": outs,
    }
    report["linesAfterReply"] = lines(metrics)
    time.sleep(3)
    report["linesThreeSecondsLater"] = lines(metrics)
    reply, outs = run_cell(kc, "console.log(`alive ${1 + 1}`);", 60)
    report["alive"] = {"reply": reply, "outputs": outs}
    reply, outs = run_cell(kc, TRAIN, 600)
    report["resume"] = {"reply": reply, "outputs": outs}
    kc.stop_channels()
finally:
    km.shutdown_kernel(now=True)
print(json.dumps(report, default=str))

# Config for `jupyter nbconvert --execute`, passed by run-notebooks.ts with --config.
#
# Why: tslab reports a failing cell (a TypeScript compile error, an exception) by writing the message to the
# cell's stderr stream and replying "error" with an empty traceback, so nbconvert's own CellExecutionError shows
# only "<Error>:". This hook runs when a cell fails, before nbconvert aborts, and writes the failing cell's
# index, source and outputs as one JSON line after a marker; run-notebooks.ts parses it and prints it readably.
# A second hook gives each executed cell its execution count (below).
import json
import sys

MARKER = "MSD_CELL_ERROR "


def _on_cell_error(cell, cell_index, execute_reply, **_kwargs):
    content = (execute_reply or {}).get("content", {})
    record = {
        "cellIndex": cell_index,
        "source": cell.get("source", ""),
        "outputs": cell.get("outputs", []),
        "ename": content.get("ename"),
        "evalue": content.get("evalue"),
        "traceback": content.get("traceback"),
    }
    sys.stderr.write(MARKER + json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


def _on_cell_executed(cell, execute_reply, **_kwargs):
    # tslab sends no execute_input message, the one nbclient reads the prompt number from, so executed copies
    # showed `[ ]:` on every cell; its execute_reply carries the count.
    count = ((execute_reply or {}).get("content") or {}).get("execution_count")
    if isinstance(count, int):
        cell["execution_count"] = count


c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.ExecutePreprocessor.on_cell_error = _on_cell_error
c.ExecutePreprocessor.on_cell_executed = _on_cell_executed

# nbconvert settings for scripts/run-notebook.ts (passed with --config).
#
# tslab reports a failing cell only through its execute reply (status "error") and the cell's
# stderr: no "error" output, so `--allow-errors` would save the notebook with nothing marking
# the failure. These hooks record it in the notebook itself:
#   - a failed cell gets a standard "error" output (name, message, stack trace from stderr),
#     which Jupyter and the HTML report show in red and run-notebook.ts reads back;
#   - every cell that did not succeed gets metadata "execution_status" ("error" or "abort":
#     tslab skips the cells queued behind a failure);
#   - each cell gets its execution count from the reply (tslab sends no execute_input message).
# Progress goes to stderr, one line per code cell (1-based numbers over all cells, as the
# failure report uses), so a long run shows where it is.
import re
import sys
import time

_started = {}
_total = [0]

# Frames of tslab and Node's vm module, not of the user's code.
_NOISE = re.compile(r"^\s+at .*(node:vm|tslab[\\/]dist[\\/]|node:internal)")
_ERROR_LINE = re.compile(r"^([A-Za-z_$][\w$]*(?:Error|Exception)|Error): ?(.*)$")
_TS_DIAGNOSTIC = re.compile(r"^\d+:\d+ - ")


def _first_line(cell):
    for line in cell.source.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""


def _stderr_text(cell):
    return "".join(
        o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def _error_output(cell, reply):
    ename = reply.get("ename") or ""
    evalue = reply.get("evalue") or ""
    lines = [line for line in _stderr_text(cell).splitlines() if not _NOISE.match(line)]
    # Node prints an error without stack frames as "[Error: message]": keep it as "Error: message".
    if lines and lines[0].startswith("[") and lines[-1].endswith("]") and _ERROR_LINE.match(lines[0][1:]):
        lines[0], lines[-1] = lines[0][1:], lines[-1][:-1]
    if not ename:
        for line in lines:
            m = _ERROR_LINE.match(line)
            if m:
                ename, evalue = m.group(1), m.group(2)
                break
    if not ename:
        diagnostics = [line for line in lines if _TS_DIAGNOSTIC.match(line)]  # "line:col - message"
        if diagnostics:
            ename, evalue = "TypeScriptError", "; ".join(diagnostics)
    if not ename:
        ename, evalue = "Error", (lines[0] if lines else "the cell failed without a message")
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": lines or [evalue]}


def on_notebook_start(notebook):
    _total[0] = len(notebook.cells)


def on_cell_execute(cell, cell_index):
    _started[cell_index] = time.time()
    print(f"[run-notebook] cell {cell_index + 1}/{_total[0]}: {_first_line(cell)}", file=sys.stderr, flush=True)


def on_cell_executed(cell, cell_index, execute_reply):
    reply = execute_reply.get("content", {}) if execute_reply else {}
    status = reply.get("status", "ok")
    seconds = time.time() - _started.get(cell_index, time.time())
    if status != "ok":
        cell.metadata["execution_status"] = status
    # tslab sends no execute_input message, so nbclient leaves "In [ ]:" blank; the reply has the count.
    if cell.get("execution_count") is None and reply.get("execution_count"):
        cell.execution_count = reply["execution_count"]
    if status == "error" and not any(o.get("output_type") == "error" for o in cell.outputs):
        from nbformat import from_dict

        error = _error_output(cell, reply)
        # The error output is made of the cell's stderr: keep the text once, in red, not twice.
        cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        cell.outputs.append(from_dict(error))
    if status != "ok" or seconds >= 1:
        print(f"[run-notebook] cell {cell_index + 1}/{_total[0]}: {status} ({seconds:.1f} s)", file=sys.stderr, flush=True)


c.ExecutePreprocessor.on_notebook_start = on_notebook_start  # noqa: F821 (c is nbconvert's config object)
c.ExecutePreprocessor.on_cell_execute = on_cell_execute  # noqa: F821
c.ExecutePreprocessor.on_cell_executed = on_cell_executed  # noqa: F821

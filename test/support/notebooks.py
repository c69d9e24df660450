"""Executes Jupyter notebooks with Jupyter's own client (nbclient) on the tslab kernel.

Usage: python3 notebooks.py NOTEBOOK.ipynb...  (the kernel spec is found through JUPYTER_PATH)
Prints one JSON line: for each notebook, whether it ran, the failing cell's error, the seconds it
took and its outputs (stream text, and the MIME types of rich outputs).
"""
import json
import os
import sys
import time

import nbclient
import nbformat

results = []
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="tslab",
                                     resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    t0 = time.time()
    error = None
    try:
        client.execute()
    except Exception as e:  # CellExecutionError names the cell and carries the kernel's traceback
        error = str(e)[-2000:]
    outputs = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                outputs.append({"stream": o.get("text", "")})
            elif kind in ("display_data", "execute_result"):
                outputs.append({"mimes": sorted(o.get("data", {}).keys())})
            elif kind == "error":
                outputs.append({"error": o.get("evalue", "")})
    nbformat.validate(nb)
    results.append({"notebook": os.path.basename(path), "ok": error is None, "error": error,
                    "seconds": round(time.time() - t0, 1), "outputs": outputs})
print(json.dumps(results))

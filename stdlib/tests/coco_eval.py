"""pycocotools' numbers for the COCO cross-check in coco_eval.rs.

stdin: {"cases": [{"truth": path, "detections": path}, ...]}
stdout: {"cases": [{"stats": [12 numbers], "per_class": [AP per category id, sorted]}]}
Exit code 3 when pycocotools cannot be imported.
"""
import contextlib
import io
import json
import sys

try:
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError:
    sys.exit(3)


def score(truth, detections):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(truth)
        dt = gt.loadRes(detections)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    per_class = []
    for k in range(len(ev.params.catIds)):
        p = ev.eval["precision"][:, :, k, 0, -1]
        p = p[p > -1]
        per_class.append(float(np.mean(p)) if p.size else -1.0)
    return {"stats": [float(s) for s in ev.stats], "per_class": per_class}


request = json.load(sys.stdin)
json.dump({"cases": [score(c["truth"], c["detections"]) for c in request["cases"]]}, sys.stdout)

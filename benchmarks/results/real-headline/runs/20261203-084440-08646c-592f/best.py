"""Non-maximum suppression of detection boxes."""
import numpy as np


def iou(a, b):
    """Intersection over union of two boxes (x1, y1, x2, y2), pixel-inclusive coordinates."""
    xx1, yy1 = max(a[0], b[0]), max(a[1], b[1])
    xx2, yy2 = min(a[2], b[2]), min(a[3], b[3])
    w, h = max(0.0, xx2 - xx1 + 1), max(0.0, yy2 - yy1 + 1)
    inter = w * h
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area_a + area_b - inter)


def nms(dets, thresh):
    """Indices of the boxes kept, best score first; dets rows are (x1, y1, x2, y2, score)."""
    dets = np.asarray(dets, dtype=float)
    order = list(dets[:, 4].argsort()[::-1])
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        order = [j for j in order if iou(dets[i], dets[j]) <= thresh]
    return keep

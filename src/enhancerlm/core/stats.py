"""Statistics of binary classifiers and tests: metrics, the decision threshold, ROC and PR curves, BH q-values,
McNemar's and DeLong's tests."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from enhancerlm.errors import InputError

CURVE_GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Accuracy, sensitivity, specificity, MCC, AUC, AUPRC and the confusion matrix at `threshold`.

    A metric that a subset cannot define (AUC with one class, specificity without negatives)
    is None, and `undefined` says why, rather than a number that looks meaningful.
    """
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    predicted = (probabilities >= threshold).astype(int)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    n_pos, n_neg = tp + fn, tn + fp
    undefined: dict[str, str] = {}
    result: dict = {"n": int(len(labels)), "n_positive": n_pos, "n_negative": n_neg, "threshold": float(threshold)}
    result["accuracy"] = (tp + tn) / len(labels) if len(labels) else None
    result["sensitivity"] = tp / n_pos if n_pos else None
    result["specificity"] = tn / n_neg if n_neg else None
    result["balanced_accuracy"] = (result["sensitivity"] + result["specificity"]) / 2 if n_pos and n_neg else None
    if not n_pos:
        undefined["sensitivity"] = "no positive records"
    if not n_neg:
        undefined["specificity"] = "no negative records"
    if n_pos and n_neg:
        result["mcc"] = float(skm.matthews_corrcoef(labels, predicted))
        result["auc"] = float(skm.roc_auc_score(labels, probabilities))
        result["auprc"] = float(skm.average_precision_score(labels, probabilities))
    else:
        reason = "only one class present"
        result.update(mcc=None, auc=None, auprc=None)
        undefined.update(mcc=reason, auc=reason, auprc=reason, balanced_accuracy=reason)
    if not len(labels):
        undefined["accuracy"] = "no records"
    result["confusion_matrix"] = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    result["undefined"] = undefined
    return result


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold that maximises MCC (ties: the one closest to 0.5); 0.5 if undefined."""
    labels = np.asarray(labels, dtype=int)
    if len(np.unique(labels)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([np.asarray(probabilities, dtype=float), [0.5]]))
    scores = [skm.matthews_corrcoef(labels, (probabilities >= t).astype(int)) for t in candidates]
    best = np.max(scores)
    ties = candidates[np.isclose(scores, best)]
    return float(ties[np.argmin(np.abs(ties - 0.5))])


def curves(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, dict[float, float]]:
    """ROC (TPR at each FPR) and precision-recall (interpolated precision at each recall) on a fixed grid.

    A fixed grid keeps x values unique per line, as MultiQC line graphs need, and makes curves
    from different models directly comparable.
    """
    fpr, tpr, _ = skm.roc_curve(labels, probabilities)
    precision, recall, _ = skm.precision_recall_curve(labels, probabilities)
    order = np.argsort(recall)
    recall, precision = recall[order], np.maximum.accumulate(precision[order][::-1])[::-1]
    roc = np.interp(CURVE_GRID, fpr, tpr)
    pr = np.interp(CURVE_GRID, recall, precision)
    return {
        "roc": dict(zip(CURVE_GRID.tolist(), np.round(roc, 4).tolist())),
        "pr": dict(zip(CURVE_GRID.tolist(), np.round(pr, 4).tolist())),
    }


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values: min over ranks j >= i of p_(j) * m / j, capped at 1, in input order."""
    values = np.asarray(p, dtype=float)
    if values.ndim != 1:
        raise InputError(f"p-values must be 1-D, got {values.ndim}-D")
    if not np.all((values >= 0) & (values <= 1)):
        raise InputError("p-values must lie in [0, 1] (no NaN)")
    m = values.size
    if not m:
        return values.copy()
    order = np.argsort(values, kind="stable")
    ranked = values[order] * m / np.arange(1, m + 1)
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(monotone, 1.0)
    return q


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test on paired correct/incorrect calls: how often only A, or only B, is right."""
    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"n": int(len(correct_a)), "only_a_correct": only_a, "only_b_correct": only_b, "p": float(p)}


def delong_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> dict:
    """DeLong's test for two correlated ROC AUCs on the same records (DeLong et al. 1988; Sun & Xu 2014)."""
    labels = np.asarray(labels, dtype=int)
    positive = labels == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if not m or not n:
        return {
            "n": int(len(labels)),
            "auc_a": None,
            "auc_b": None,
            "difference": None,
            "z": None,
            "p": None,
            "undefined": "only one class present",
        }
    aucs, v10, v01 = [], [], []
    for scores in (np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)):
        x, y = scores[positive], scores[~positive]
        rank_x, rank_y = stats.rankdata(x), stats.rankdata(y)
        rank_all = stats.rankdata(np.concatenate([x, y]))
        aucs.append((rank_all[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((rank_all[:m] - rank_x) / n)
        v01.append(1.0 - (rank_all[m:] - rank_y) / m)
    covariance = np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = aucs[0] - aucs[1]
    z = difference / np.sqrt(variance) if variance > 0 else 0.0
    return {
        "n": int(len(labels)),
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": float(difference),
        "z": float(z),
        "p": float(2 * stats.norm.sf(abs(z))),
    }

"""The budgets of bench/lighthouse.py and how a Lighthouse report (its JSON)
is judged against them: free of Django, so the test suite checks the
judging on made-up reports without running Lighthouse."""

from __future__ import annotations

from dataclasses import dataclass

BUDGETS = {"performance": 90, "accessibility": 95, "best-practices": 95}
ASSET_BYTES_BUDGET = 100 * 1024
FIRST_VISIT_BUDGET_MS = 2000
FIRST_VISIT_PATH = "/report/"


@dataclass
class Result:
    path: str
    scores: dict[str, int]
    fcp_ms: float
    lcp_ms: float
    tti_ms: float
    asset_bytes: int
    missed: list[str]


def asset_bytes(report: dict) -> int:
    """Bytes of JS and CSS as sent over the network (compressed when served so)."""
    requests = report["audits"]["network-requests"]["details"]["items"]
    return sum(
        r.get("transferSize", 0)
        for r in requests
        if r.get("resourceType") in ("Script", "Stylesheet")
    )


def judged(path: str, report: dict) -> Result:
    audits = report["audits"]
    scores = {name: round((report["categories"][name]["score"] or 0) * 100) for name in BUDGETS}
    result = Result(
        path=path,
        scores=scores,
        fcp_ms=audits["first-contentful-paint"]["numericValue"],
        lcp_ms=audits["largest-contentful-paint"]["numericValue"],
        tti_ms=audits["interactive"]["numericValue"],
        asset_bytes=asset_bytes(report),
        missed=[],
    )
    for name, least in BUDGETS.items():
        if scores[name] < least:
            result.missed.append(f"{name} {scores[name]} < {least}")
    if result.asset_bytes > ASSET_BYTES_BUDGET:
        result.missed.append(f"JS+CSS {result.asset_bytes / 1024:.1f} KB > 100 KB")
    if path == FIRST_VISIT_PATH and result.lcp_ms > FIRST_VISIT_BUDGET_MS:
        result.missed.append(f"first visit (LCP) {result.lcp_ms:.0f} ms > 2000 ms")
    return result


def failed_audits(report: dict) -> list[str]:
    """What cost the accessibility and best-practices scores: the audits that failed."""
    found = []
    for category in ("accessibility", "best-practices"):
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                found.append(f"{category}: {ref['id']} ({audit['title']})")
    return found


def exit_status(results: list[Result], *, smoke: bool) -> int:
    """1 when a page missed a budget, outside smoke mode."""
    return 1 if not smoke and any(r.missed for r in results) else 0

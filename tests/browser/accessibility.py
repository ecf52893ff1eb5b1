"""The accessibility check of a page open in Chromium: axe-core's rules, run in the page, at a phone's width
and a desktop's, with a full-page screenshot at each into artifacts/screenshots/<name>-<width>.png.

axe-core comes from the PyPI package axe-playwright-python, which ships axe.min.js (AXE_SCRIPT). It is put
into the page and run with Playwright's `page.evaluate`, which goes through the DevTools protocol
(Runtime.callFunctionOn): script given that way is not the page's own, so the page's Content-Security-Policy
(`script-src 'nonce-...'`) does not apply to it and needs no weakening, and the contexts are made without
`bypass_csp`. The page is checked under its production CSP, as people see it: a style the policy blocks is
blocked here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page


@dataclass(frozen=True)
class Width:
    width: int
    height: int

    @property
    def viewport(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}


PHONE = Width(375, 812)
DESKTOP = Width(1280, 800)
WIDTHS = (PHONE, DESKTOP)
FAILING_IMPACTS = ("serious", "critical")  # axe's impacts are minor, moderate, serious, critical
# axe's default rules, and WCAG 2.2's target size (24 by 24 CSS pixels), which matters most on a phone.
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


@dataclass(frozen=True)
class Look:
    """A page at one width: its screenshot, the serious and critical violations, how wide its content is."""

    width: Width
    screenshot: Path
    violations: tuple[dict, ...]
    scroll_width: int
    inner_width: int

    @property
    def scrolls_sideways(self) -> bool:
        return self.scroll_width > self.inner_width


@dataclass(frozen=True)
class Audit:
    name: str
    url: str
    looks: tuple[Look, ...]

    def violations_report(self) -> str:
        """Every serious or critical violation at every width: rule, impact, the nodes it was found on."""
        lines = []
        for look in self.looks:
            for violation in look.violations:
                lines.append(
                    f"{self.name} at {look.width.width}px: {violation['id']} ({violation['impact']}): "
                    f"{violation['help']} <{violation['helpUrl']}>"
                )
                for node in violation["nodes"]:
                    target = " ".join(str(part) for part in node["target"])
                    summary = (node.get("failureSummary") or "").replace("\n", " ")
                    lines.append(f"    {target}: {node['html'][:200]}  ({summary})")
        return "\n".join(lines)


def serious_violations(page: Page) -> tuple[dict, ...]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):  # once per document
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return tuple(v for v in results["violations"] if v["impact"] in FAILING_IMPACTS)


def audit(page: Page, name: str, folder: Path) -> Audit:
    """Look at the open page at each width (resizing its viewport): screenshot, axe, and its scroll width."""
    looks = []
    for width in WIDTHS:
        page.set_viewport_size(width.viewport)
        screenshot = folder / f"{name}-{width.width}.png"
        page.screenshot(path=str(screenshot), full_page=True)
        violations = serious_violations(page)
        scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        looks.append(Look(width, screenshot, violations, scroll_width, inner_width))
    return Audit(name, page.url, tuple(looks))


def assert_accessible(page: Page, name: str, folder: Path) -> Audit:
    """Fail on any serious or critical violation at the phone's width or the desktop's."""
    done = audit(page, name, folder)
    report = done.violations_report()
    if report:
        raise AssertionError(f"accessibility violations on {done.url} (screenshots in {folder}):\n{report}")
    return done

"""Browser tests: Playwright for Python driving Debian's Chromium against Django's live server.

Screenshots go to artifacts/screenshots/ (git-ignored): look at them. Every page visited through
`visit()` is also audited with axe-core (WCAG 2.1 AA); a serious or critical violation fails."""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# itself (fixtures, assertions) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# expect() retries for 5 s by default; on a loaded 2-core CI machine a POST and its redirect can
# take longer (seen: the language switch), so assertions wait as long as actions do (15 s).
expect.set_options(timeout=15_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
PHONE = {"width": 390, "height": 844}
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`
  );
});
"""
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's Chromium is missing: run `make system-deps` (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@contextmanager
def _page(browser, viewport, *, mobile):
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=2 if mobile else 1,
        is_mobile=mobile,
        has_touch=mobile,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    # axe-core arrives as an init script (through the DevTools protocol, which the page's
    # Content-Security-Policy does not govern), so the policy is tested as a citizen meets it:
    # every violation the page reports is collected and fails `check_page` (issue 13).
    context.add_init_script(path=str(AXE))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone(browser):
    with _page(browser, PHONE, mobile=True) as page:
        yield page


@pytest.fixture
def desktop(browser):
    with _page(browser, DESKTOP, mobile=False) as page:
        yield page


@pytest.fixture
def live_demo(demo_transactional, live_server):
    """The demo cast with its relationships (seed_demo), reachable through the live server."""
    return live_server


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def audit(page) -> list[dict]:
    """axe-core WCAG 2.1 AA violations of impact serious or critical on the current page."""
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values:"
        " ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page, name: str) -> None:
    """Screenshot the page and fail on serious/critical accessibility violations."""
    page.wait_for_load_state("networkidle")
    shot(page, name)
    violations = audit(page)
    assert violations == [], f"{name}: {violations}"
    refused = csp_violations(page)
    assert refused == [], f"{name}: the Content-Security-Policy refused {refused}"


def csp_violations(page) -> list[str]:
    """What the page's Content-Security-Policy refused since it loaded (an inline script or
    style, a resource from elsewhere): none, on every page the browser tests visit."""
    return page.evaluate("window.__cspViolations || []")


def staff_login(page, base: str, username: str) -> None:
    """Sign a staff member in through the admin's login, on to the staff console."""
    from accounts.demo import STAFF_PASSWORD

    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/?next=/staff/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state("networkidle")

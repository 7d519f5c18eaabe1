"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, selenium).

Run by DashboardBrowserTests against schedd, an agent and a router started as processes, with
an app applied but not deployed. Checks, in order:
  1. without a session only the login page is shown, /dashboard/state and the API refuse the
     browser, and a wrong token is refused with a message;
  2. after logging in with the operator token: the nodes with CPU and memory bars, the app;
  3. the buttons: build the new environment twice (blue, then green), run the pre-production
     check, switch production (after confirming in the dialog; cancelling changes nothing);
  4. the graphs: SVG lines for requests per second once traffic went through the router.
Prints one line per step; exits 1 with the reason on the first failure.

usage: dashboard_test.py API_URL TOKEN APP IMAGE1 IMAGE2 ROUTER_PORT HOST [SCREENSHOT.png]
"""

import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def fail(message):
    print("FAILED:", message, flush=True)
    sys.exit(1)


def step(message):
    print("ok:", message, flush=True)


def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1800", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


# The page replaces its live part every 3 seconds: an element found just before that is stale
# just after. Waits retry through it; reads of the live part are single scripts; clicks retry.
STALE = (StaleElementReferenceException,)


def wait_for(driver, what, condition, timeout=60):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=STALE).until(
            lambda d: condition(d))
    except TimeoutException:
        log = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#log li")]
        fail(f"timed out waiting for {what}; activity: {log}")


def fetch_status(driver, method, path, extra=""):
    """The status the page's own fetch gets for `path` (with the session cookie, if any)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('{path}', {{method: '{method}', credentials: 'same-origin', {extra}}})"
        ".then(r => done(r.status)).catch(e => done(String(e)));")


def click(driver, selector):
    for _ in range(10):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except STALE:
            time.sleep(0.1)
    fail(f"{selector} kept going stale")


def snapshot(driver, script):
    """What a script reads from the page, in one go."""
    return driver.execute_script(script)


def activity_done(driver, prefix):
    """The activity entry starting with `prefix` once it finished (done or failed)."""
    for item in driver.find_elements(By.CSS_SELECTOR, "#log li"):
        if item.text.startswith(prefix) and item.get_attribute("data-state") != "running":
            return item
    return None


def set_image(driver, app, image):
    """Types the image into the app's field (kept across refreshes by the page)."""
    for _ in range(10):
        try:
            field = driver.find_element(By.ID, f"image-{app}")
            field.clear()
            field.send_keys(image)
            if driver.find_element(By.ID, f"image-{app}").get_attribute("value") == image:
                return
        except WebDriverException:  # replaced while typing: type again
            pass
        time.sleep(0.1)
    fail(f"could not type {image} into the image field")


def run_action(driver, app, action, prefix, confirm=False, timeout=90):
    click(driver, f"section.app[data-app='{app}'] button[data-action='{action}']")
    if confirm:
        dialog = wait_for(driver, "the confirmation dialog",
                          lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None
                          and d.find_element(By.ID, "confirm"))
        text = dialog.find_element(By.ID, "confirm-text").text
        driver.find_element(By.ID, "confirm-ok").click()
        step(f"confirmed: {text}")
    item = wait_for(driver, f"{prefix} to finish", lambda d: activity_done(d, prefix), timeout)
    if item.get_attribute("data-state") != "done":
        fail(f"{prefix}: {item.text}")
    step(item.text)
    return item.text


def main():
    api, token, app, image1, image2, router_port, host = sys.argv[1:8]
    screenshot = sys.argv[8] if len(sys.argv) > 8 else None
    driver = browser()
    try:
        # 1. No session: the login page only.
        driver.get(api + "/dashboard")
        if not driver.find_elements(By.ID, "login"):
            fail("no login form without a session")
        if driver.find_elements(By.CSS_SELECTOR, ".node, section.app, button[data-action]"):
            fail("nodes, apps or buttons shown without a session")
        if app in driver.page_source:
            fail("the app's name is on the page without a session")
        status = fetch_status(driver, "GET", "/dashboard/state")
        if status != 401:
            fail(f"/dashboard/state answered {status} without a session")
        status = fetch_status(driver, "POST", f"/v1/apps/{app}/switch",
                              "headers: {'X-Turnout-Dashboard': '1'}, body: '{}'")
        if status != 401:
            fail(f"a switch without a session answered {status}")
        step("without a session: login page only, state and API refused (401)")
        driver.find_element(By.ID, "token").send_keys("not-the-token")
        driver.find_element(By.ID, "login-submit").click()
        error = wait_for(driver, "the refusal", lambda d: d.find_elements(By.ID, "login-error"))
        step(f"wrong token refused: {error[0].text}")

        # 2. Log in.
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "login-submit").click()
        wait_for(driver, "the dashboard", lambda d: d.find_elements(By.CSS_SELECTOR, "article.node"))
        page = snapshot(driver, """return {
            nodes: [...document.querySelectorAll("article.node")].map(n => n.dataset.node),
            bars: document.querySelectorAll("article.node .capacity .bar").length,
            labels: [...document.querySelectorAll("article.node .capacity .label")].map(e => e.textContent.trim())}""")
        nodes, bars, labels = page["nodes"], page["bars"], page["labels"]
        if bars != 2 * len(nodes):
            fail(f"{len(nodes)} nodes but {bars} capacity bars")
        if not any(label.startswith("CPU: used") for label in labels):
            fail(f"no CPU bar label: {labels}")
        step(f"logged in: {len(nodes)} node(s) {nodes}, bars: {labels}")
        if not driver.find_elements(By.CSS_SELECTOR, f"section.app[data-app='{app}']"):
            fail(f"app {app} not shown")

        # 3. The buttons.
        set_image(driver, app, image1)
        run_action(driver, app, "deploy", f"build new environment of {app}")
        wait_for(driver, "the blue set to be ready and live", lambda d: d.find_elements(
            By.CSS_SELECTOR, f"section.app[data-app='{app}'][data-live='blue'] .set.blue[data-state='ready']"))
        step("blue set ready and live")
        set_image(driver, app, image2)
        for item in driver.find_elements(By.CSS_SELECTOR, "#log li"):
            driver.execute_script("arguments[0].remove()", item)
        run_action(driver, app, "deploy", f"build new environment of {app}")
        wait_for(driver, "the green set to be ready", lambda d: d.find_elements(
            By.CSS_SELECTOR, f"section.app[data-app='{app}'] .set.green[data-state='ready']"))
        step("green set ready, blue still live")
        run_action(driver, app, "verify", f"pre-production check of {app}", timeout=120)

        # Cancelling the confirmation changes nothing.
        click(driver, f"section.app[data-app='{app}'] button[data-action='switch']")
        wait_for(driver, "the dialog", lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None)
        driver.find_element(By.ID, "confirm-cancel").click()
        time.sleep(1)
        if activity_done(driver, f"switch {app}") or driver.find_elements(
                By.CSS_SELECTOR, f"#log li[data-state='running']"):
            fail("a cancelled switch ran")
        if not driver.find_elements(By.CSS_SELECTOR, f"section.app[data-app='{app}'][data-live='blue']"):
            fail("blue is no longer live after a cancelled switch")
        step("cancelled switch: nothing ran, blue still live")

        run_action(driver, app, "switch", f"switch {app}", confirm=True)
        wait_for(driver, "green to be live", lambda d: d.find_elements(
            By.CSS_SELECTOR, f"section.app[data-app='{app}'][data-live='green'] .set.green.live"))
        step("green is live on the page")
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{router_port}/version", headers={"Host": host}), timeout=5) as response:
            color = response.headers.get("x-turnout-color")
        if color != "green":
            fail(f"the router served {color} after the switch")
        step("the router serves green")

        # 4. Graphs: traffic through the router, then wait for the sampler's points.
        for _ in range(40):
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{router_port}/version", headers={"Host": host}), timeout=5).read()
        charts = snapshot(driver, f"return document.querySelectorAll(\"section.app[data-app='{app}'] svg.chart\").length")
        if charts != 5:
            fail(f"{charts} charts for {app}, expected 5")
        wait_for(driver, "a requests line in green", lambda d: d.find_elements(
            By.CSS_SELECTOR, f"section.app[data-app='{app}'] figure.graph:first-child .line.green"), 60)
        step("requests-per-second graph draws green's traffic")
        wait_for(driver, "memory lines", lambda d: d.find_elements(
            By.CSS_SELECTOR, f"section.app[data-app='{app}'] figure.graph:last-child .line"), 60)
        step("memory-per-set graph has points")
        kinds = snapshot(driver, "return [...document.querySelectorAll('#events tr.event')].map(e => e.dataset.kind)")
        for kind in ("app.verified", "app.switched"):
            if kind not in kinds:
                fail(f"{kind} not in the event log: {kinds[:10]}")
        step(f"event log shows {len(kinds)} events incl. app.verified and app.switched")
        if screenshot:
            driver.save_screenshot(screenshot)
            step(f"screenshot {screenshot}")
    finally:
        driver.quit()
    print("PASSED", flush=True)


if __name__ == "__main__":
    main()

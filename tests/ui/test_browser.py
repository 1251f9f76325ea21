"""Issue 15 must-show: an officer in a real browser (headless Chromium) against a running stack.

Embedded broker, a real ``zeikan worker`` and a real ``zeikan ui`` as subprocesses. The
officer logs in, sees a selected declaration appear live, opens it and sees the X-ray
with its heatmap, records an outcome (the worker's inspection metric moves; a double
submit counts once), annotates an image (label in the store) and edits a rule (the
worker hot-reloads it). Screenshots go to ``var/ui-screenshots`` (``ZEIKAN_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.streams.pipeline_factories import declaration, history
from tests.streams.serving.test_images_in_stream import rendered_scans
from tests.streams.worker_harness import FAST_ENV, WorkerProcess, in_event_time_order, publish_events, read_decoded, wait_until
from tests.ui.factories import PASSWORDS, users_file
from zeikan.images.store import open_store
from zeikan.schemas.reference import make_container_id
from zeikan.streams.kafka.broker import free_port

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("ZEIKAN_UI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "ui-screenshots"))
SCRIPT = "<script>alert('owned')</script>"
NEW_RULE = "  - id: furniture-from-vn\n    description: wooden furniture from VN\n    when: ['hs_code starts with 9403', 'origin_country = VN']\n    action: DOCUMENT_CHECK\n"


def metric(port: int, name: str, **labels: str) -> float:
    """Sum of a worker's ``/metrics`` samples of ``name`` whose labels include ``labels``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}(?:\{{(.*)\}})? ([0-9.e+-]+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def later_traffic(results_at: int, n: int = 48) -> list[tuple[str, dict]]:
    """The port keeps working after the officer's result: declarations filed two hours later on every partition.

    The stream folds a result once event time has passed it on its sources (``declarations``
    and ``inspection-results`` partitions); later traffic is what moves event time on.
    """
    rng = random.Random(3)
    return [("declarations", declaration(rng, 900_000 + k, results_at + 2 * 3_600_000 + k)) for k in range(n)]


def ready(port: int) -> bool:
    """Whether a worker's ``/readyz`` answers 200 (the worker is a black box: only its HTTP endpoints)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


class UiProcess:
    """``zeikan ui`` as a child process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "zeikan.cli.main", "ui", "--port", str(self.port)],
                                        env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        wait_until(self.up, 60, log)

    def up(self) -> bool:
        assert self.process.poll() is None, f"zeikan ui exited:\n{self.log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def shot(driver: webdriver.Chrome, name: str) -> Path:
    """Save a screenshot of the whole page (the viewport stretched to the page's height)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1500, "height": min(max(900, height), 4000), "deviceScaleFactor": 1, "mobile": False})
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


@pytest.mark.skipif(not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists(), reason="needs Debian chromium and chromium-driver (.ci/run installs them)")
def test_an_officer_works_a_selected_declaration_in_the_browser(fresh_broker, tmp_path):
    hist = history(days=1, per_day=20, seed=8)
    chosen = hist["declarations"][3]
    did = chosen["declaration_id"]
    for earlier in hist["declarations"][:3]:  # the importer's and declarant's history at this office
        earlier.update(office_id="JPYOK", importer_id="IMP-0777", declarant_id="DCL-0077")
    chosen.update(office_id="JPYOK", importer_id="IMP-0777", declarant_id="DCL-0077", containers=[make_container_id("TGHU", 901), make_container_id("TGHU", 902)])
    chosen["items"] = [dict(chosen["items"][0], hs_code="94036000", description=f"wooden furniture {SCRIPT}", quantity=600.0,
                            gross_weight_kg=12_000.0)]
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: ui-test-1\nrules:\n  - id: scan-it\n    description: named for scanning\n"
                     f"    when: [\"declaration_id in [{did}]\"]\n    action: SCAN\n")
    images = tmp_path / "images"
    scans = rendered_scans(images, chosen["containers"], chosen["filed_at"] + 2 * 3_600_000)

    broker = fresh_broker()
    env = {"ZEIKAN_RULES": str(rules), "ZEIKAN_REGISTRY": str(tmp_path / "no-models"), "ZEIKAN_IMAGE_STORE": str(images)}
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", env)
    ui = UiProcess({**FAST_ENV, **env, "ZEIKAN_BOOTSTRAP": broker.bootstrap, "ZEIKAN_UI_USERS": str(users_file(tmp_path / "users.yaml")),
                    "ZEIKAN_UI_SECRET": "browser-test-secret", "ZEIKAN_UI_DATA": str(tmp_path / "ui")}, tmp_path / "ui.log")
    driver = browser()
    base = f"http://127.0.0.1:{ui.port}"
    wait = WebDriverWait(driver, 120, poll_frequency=0.5)
    try:
        wait_until(lambda: ready(worker.port), 90, worker.log_path)
        # 1. log in
        driver.get(f"{base}/worklist")
        assert "/login" in driver.current_url
        driver.find_element(By.ID, "user").send_keys("tanaka")
        driver.find_element(By.ID, "password").send_keys(PASSWORDS["tanaka"])
        driver.find_element(By.ID, "login").click()
        wait.until(lambda d: d.current_url.endswith("/worklist"))

        # 2. the selected declaration appears live (published after the page was opened)
        publish_events(broker.bootstrap, in_event_time_order(hist, scans))
        row = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-declaration="{did}"]'))[0]
        assert row.find_element(By.CSS_SELECTOR, ".lane").text in ("SCAN", "PHYSICAL_EXAM")
        offices = {r.find_element(By.TAG_NAME, "small").text.split(" ")[0] for r in driver.find_elements(By.CSS_SELECTOR, "tr.row")}
        assert offices == {"JPYOK"}, "tanaka sees only Yokohama"
        wait.until(lambda d: "PHYSICAL_EXAM" in d.find_element(By.CSS_SELECTOR, f'tr[data-declaration="{did}"]').text)
        worklist_png = shot(driver, "01-worklist")

        # 3. the declaration page: X-ray image with its heatmap, physics check, escaped description
        driver.find_element(By.LINK_TEXT, did).click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#xray img.heat"))
        for img in driver.find_elements(By.CSS_SELECTOR, "#xray img"):
            wait.until(lambda d, img=img: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#xray img.heat")) == 2
        assert "image-implied mass" in driver.find_element(By.ID, "xray").text
        assert "possible concealment" in driver.find_element(By.ID, "decision-POST_SCAN").text
        assert SCRIPT in driver.find_element(By.CSS_SELECTOR, "#items td.description").text, "shown as text, not run"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#importer-history tbody tr")) == 3
        shot(driver, "02-declaration")

        # 4. record an outcome: the worker's inspection (hit-rate) metric moves once, even when submitted twice
        labels = {"lane": "PHYSICAL_EXAM", "outcome": "SEIZURE"}
        before = metric(worker.port, "zeikan_inspections_total", **labels)
        Select(driver.find_element(By.ID, "inspection_type")).select_by_visible_text("PHYSICAL")
        Select(driver.find_element(By.ID, "outcome-select")).select_by_visible_text("SEIZURE")
        Select(driver.find_element(By.ID, "finding_kind_0")).select_by_visible_text("CONCEALMENT")
        driver.find_element(By.NAME, "finding_note_0").send_keys("package in the side wall")
        revenue = driver.find_element(By.ID, "revenue")
        revenue.clear()
        revenue.send_keys("4200.00")
        form = {el.get_attribute("name"): el.get_attribute("value")
                for el in driver.find_elements(By.CSS_SELECTOR, "#outcome-form input, #outcome-form select")}
        driver.find_element(By.ID, "record").click()
        recorded = wait.until(lambda d: d.find_elements(By.ID, "recorded"))[0].text
        assert form["inspection_id"] in recorded
        publish_events(broker.bootstrap, later_traffic(results_at=int(time.time() * 1000)))
        wait_until(lambda: metric(worker.port, "zeikan_inspections_total", **labels) == before + 1, 90, worker.log_path)
        driver.execute_script(  # the same form once more (double submit)
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "for (const [k, v] of Object.entries(arguments[1])) { const i = document.createElement('input');"
            "i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); } document.body.appendChild(f); f.submit();",
            f"/declarations/{did}/outcome", form)
        wait.until(lambda d: d.find_elements(By.ID, "recorded"))
        results = [r for r in read_decoded(broker.bootstrap, "inspection-results") if r["inspection_id"] == form["inspection_id"]]
        assert len(results) == 1 and results[0]["officer_id"] == "tanaka" and results[0]["outcome"] == "SEIZURE"
        assert metric(worker.port, "zeikan_inspections_total", **labels) == before + 1

        # 5. annotate the next image of the queue
        driver.get(f"{base}/annotate")
        image = wait.until(lambda d: d.find_elements(By.ID, "annotate-image"))[0]
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth > 0", image))
        sha = re.search(r"/annotate/images/([0-9a-f]{64})\.png", image.get_attribute("src")).group(1)
        size = image.size
        ActionChains(driver).move_to_element_with_offset(image, -size["width"] // 4, -size["height"] // 5).click_and_hold() \
            .move_by_offset(size["width"] // 6, size["height"] // 4).release().perform()
        assert driver.find_element(By.ID, "box-count").text == "1 box"
        Select(driver.find_element(By.ID, "cls")).select_by_visible_text("concealment")
        shot(driver, "03-annotate")
        driver.find_element(By.ID, "save-label").click()
        wait.until(lambda d: d.find_elements(By.ID, "saved"))
        [label] = [lb for lb in open_store(str(images)).labels(sha) if lb.source == "officer"]
        assert (label.verdict, label.cls, label.annotator, len(label.boxes)) == ("black", "concealment", "tanaka", 1)

        # 6. edit a rule: the worker hot-reloads it
        driver.get(f"{base}/rules")
        assert wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-rule="scan-it"]'))
        reloads = metric(worker.port, "zeikan_rule_reloads_total", result="ok")
        text = driver.find_element(By.ID, "rules-text")
        new_text = rules.read_text().replace("ui-test-1", "ui-test-2") + NEW_RULE
        driver.execute_script("arguments[0].value = arguments[1]", text, new_text)
        driver.find_element(By.ID, "save-rules").click()
        wait.until(lambda d: d.find_elements(By.ID, "saved"))
        assert rules.read_text() == new_text
        wait_until(lambda: metric(worker.port, "zeikan_rule_reloads_total", result="ok") > reloads, 30, worker.log_path)
        assert "version ui-test-2" in worker.log_text()
        assert driver.find_elements(By.CSS_SELECTOR, 'tr[data-rule="furniture-from-vn"]')
        shot(driver, "04-rules")
        driver.get(f"{base}/worklist")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-declaration="{did}"] .flag.done'))
        assert worklist_png.exists()
    finally:
        driver.quit()
        ui.stop()
        worker.stop()

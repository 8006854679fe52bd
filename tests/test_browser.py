"""A real latent slider, dragged with the mouse in real JupyterLab, must change the decoded image.

nbval executes notebooks but never renders a widget, so this test does what a student does:

1. start JupyterLab from the project's environment on 127.0.0.1 (random free port, a token, fresh config,
   settings, workspace and runtime folders, announcements, update checks and the extension manager off so
   nothing reaches the network), on a temporary copy of ``tests/browser/slider.ipynb``;
2. open it in headless Chromium (Debian's ``chromium`` package, driven by Playwright through
   ``executable_path``: ``playwright install`` cannot download browsers here), with a fresh user-data dir;
3. run the slider cell, wait for the decoded image, drag the first slider with the mouse, and assert that
   the displayed image's pixels (read from the screen) changed and that the slider's readout moved; then run
   the 2-D pad cell and click on the manifold: the decoded image changes and the sliders show the clicked code
   (this proves the ipyevents extension loads and works in this JupyterLab);
4. press PageUp/PageDown on the slider handle; the page records when each key went down and when each new
   image reached the ``<img>``, the kernel records when it started each update (``explorer.update_log``, read
   back by typing and running a new cell), and, on the same clock, "decode to display" and "key press to
   display" go to ``test-artifacts/browser/latency.json``;
5. save screenshots under ``test-artifacts/browser/`` for a person to look at;
6. shut the server down (REST ``/api/shutdown``, then signals) and close the browser, and check that no
   kernel, server or Chromium process of this test is left.

Every wait is bounded (see the ``*_S`` constants); the test takes about 15 s on 2 CPU cores.
Without ``chromium`` it skips with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae_helpers.config import REPO_ROOT, in_ci

NOTEBOOK = Path(__file__).parent / "browser" / "slider.ipynb"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
SERVER_START_S = 90  # JupyterLab up and answering /api/status
CELL_OUTPUT_S = 60  # the cell trains a small VAE for a few seconds, then shows the widget
UPDATE_S = 20  # one slider move to a new image on screen
STOP_S = 20  # server and kernel gone after /api/shutdown
KEY_PRESSES = 8  # timed keyboard updates
# VAE_BROWSER_NODELAY=1 turns off Nagle's algorithm on the server's kernel websockets (jupyter_server never calls
# tornado's set_nodelay): small widget messages then stop waiting ~40 ms for the browser's delayed TCP ACK.
NODELAY = os.environ.get("VAE_BROWSER_NODELAY", "") == "1"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = (
            "Debian's chromium is not installed (needed by the browser test): run `make browser` "
            "or `apt-get install chromium`."
        )
        if in_ci():
            pytest.fail("CI=true and " + reason)
        pytest.skip(reason)
    return path


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and Debian's chromium is not installed"):
        _chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        _chromium()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc; used to prove nothing outlives the test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if text in cmdline and "State:\tZ" not in status:  # zombies are already dead
            found.append(int(entry.name))
    return found


def _http(url: str, method: str = "GET", timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


def _pixels(png: bytes) -> np.ndarray:
    import io

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)


class JupyterLab:
    """JupyterLab on 127.0.0.1 in a temporary root, stopped (with its kernels) by :meth:`stop`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.runtime = root / ".runtime"
        settings = root / ".settings"
        # Fresh settings: no "would you like news?" prompt, no update check.
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # A fresh user data dir too: a person's own "python3" kernelspec must not replace the project's
        # environment; the widget extensions are still found in the venv's share/jupyter.
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(root / ".config"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_DATA_DIR=str(root / ".data"),
            JUPYTER_PLATFORM_DIRS="0",
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
            IPYTHONDIR=str(root / ".ipython"),
            OMP_WAIT_POLICY="PASSIVE",
            MPLBACKEND="Agg",
            PYTHONUNBUFFERED="1",
        )
        if NODELAY:  # an experiment, off by default: the test measures the JupyterLab a student gets
            (root / ".config").mkdir()
            (root / ".config" / "jupyter_server_config.py").write_text(
                "from jupyter_server.services.kernels.websocket import KernelWebsocketHandler as H\n"
                "_open = H.open\n"
                "async def open(self, *a, **k):\n"
                "    self.set_nodelay(True)\n"
                "    return await _open(self, *a, **k)\n"
                "H.open = open\n"
            )
        self.log_path = ARTIFACTS / "jupyterlab.log"
        self.log = open(self.log_path, "w")
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]
        if os.geteuid() == 0:  # CI runs as root; the server refuses to without this
            command.append("--allow-root")
        # own process group: teardown can signal the server and anything it spawned
        self.process = subprocess.Popen(
            command, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {self.process.returncode}; log:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if _http(f"{self.url}/api/status?token={self.token}") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(
            f"JupyterLab did not answer within {SERVER_START_S} s; log:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels), then signal its process group if needed."""
        if self.process.poll() is None:
            try:
                _http(f"{self.url}/api/shutdown?token={self.token}", method="POST")
            except OSError:
                pass
            try:
                self.process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                    try:
                        os.killpg(self.process.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        self.process.wait(wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        # kernels run in their own sessions: kill any still holding a connection file of this server
        for pid in _processes_mentioning(str(self.runtime)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


@pytest.fixture
def lab(tmp_path):
    _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("failure.*"):  # from an earlier failed run
        stale.unlink()
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    server = JupyterLab(root)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
    # Nothing of this test may outlive it: not the server, not its kernel, not Chromium (all name tmp_path).
    deadline = time.monotonic() + 5
    while _processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.process.poll() is not None, "JupyterLab is still running after the test"
    left = _processes_mentioning(str(tmp_path))
    assert not left, f"processes of the browser test are still running: {left}"


def _wait_for_new_image(image, before: bytes, timeout_s: float) -> bytes:
    """Screenshot the image element until its pixels differ from ``before`` (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = image.screenshot()
        if _pixels(now).shape != _pixels(before).shape or np.abs(_pixels(now) - _pixels(before)).max() > 0:
            return now
        time.sleep(0.1)
    return image.screenshot()


def test_dragging_a_latent_slider_changes_the_image(lab):
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    profile = lab.root.parent / "chromium-profile"  # fresh user-data dir, inside the test's tmp_path
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=_chromium(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            timeout=60_000,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?token={lab.token}", wait_until="domcontentloaded")
            # The notebook is open and its kernel connected when the status bar says "... | Idle".
            page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(state="visible")
            page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(state="visible")

            # Run the slider cell as a student does: click into it, Ctrl+Enter (run in place).
            page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
            page.keyboard.press("Control+Enter")
            prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
            page.wait_for_function(
                "el => /\\[(\\*|\\d+)\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=UPDATE_S * 1000
            )  # it was sent to the kernel
            image = page.locator("img.vae-decoded-image").first
            image.wait_for(state="visible", timeout=CELL_OUTPUT_S * 1000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            image.scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "before.png")
            before = image.screenshot(path=ARTIFACTS / "image_before.png")

            # Drag the first slider's handle with the mouse, towards the side with more room.
            slider = page.locator(".widget-slider").first
            handle = slider.locator(".noUi-handle").first
            readout = slider.locator(".widget-readout").first
            readout_before = readout.inner_text()
            direction = -1 if float(readout_before.replace("\u2212", "-")) > 0 else 1
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            for step in range(1, 11):  # several moves, like a hand: continuous_update decodes on the way
                page.mouse.move(x + direction * 8 * step, y)
            page.mouse.up()
            after = _wait_for_new_image(image, before, UPDATE_S)
            (ARTIFACTS / "image_after.png").write_bytes(after)
            page.screenshot(path=ARTIFACTS / "after_drag.png")

            old, new = _pixels(before), _pixels(after)
            shown = image.bounding_box()  # the 28 x 28 digit at scale 6, undistorted
            assert abs(shown["width"] - 168) < 1 and abs(shown["height"] - 168) < 1, shown
            assert old.shape == new.shape, f"the image changed size on screen: {old.shape} -> {new.shape}"
            changed = float((np.abs(new - old) > 8).mean())
            assert changed > 0.01, f"dragging the slider changed only {changed:.2%} of the displayed pixels"
            readout_after = readout.inner_text()
            moved = float(readout_after.replace("\u2212", "-")) - float(readout_before.replace("\u2212", "-"))
            assert moved * direction > 0.5, f"the slider's readout went from {readout_before} to {readout_after}"

            # Keyboard: PageUp/PageDown on the focused handle. The page records when each key went down and
            # when each new image reached the <img> (epoch ms: the kernel runs on this machine, same clock).
            page.evaluate(
                """img => {
                window.__vaeKeyTimes = []; window.__vaeSrcTimes = [];
                const now = () => performance.timeOrigin + performance.now();
                document.addEventListener('keydown', () => window.__vaeKeyTimes.push(now()), true);
                new MutationObserver(() => window.__vaeSrcTimes.push(now()))
                    .observe(img, {attributes: true, attributeFilter: ['src']});
            }""",
                image.element_handle(),
            )
            handle.focus()
            for i in range(KEY_PRESSES):
                page.keyboard.press("PageDown" if i % 2 else "PageUp")  # back and forth: always a new value
                page.wait_for_function(f"window.__vaeSrcTimes.length > {i}", timeout=UPDATE_S * 1000)
            key_times, src_times = page.evaluate("[window.__vaeKeyTimes, window.__vaeSrcTimes]")
            assert len(src_times) == KEY_PRESSES, f"{KEY_PRESSES} key presses gave {len(src_times)} new images"
            page.screenshot(path=ARTIFACTS / "after.png")

            # The 2-D pad: run its cell, click on the manifold; the code (sliders) and the decoded image follow.
            pad_cell = page.locator(".jp-Notebook .jp-CodeCell").nth(1)
            pad_cell.locator(".cm-content").first.click()
            page.keyboard.press("Control+Enter")
            pad_img = pad_cell.locator("img.vae-latent-pad").first
            pad_img.wait_for(state="visible", timeout=CELL_OUTPUT_S * 1000)
            pad_decoded = pad_cell.locator("img.vae-decoded-image").first
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=pad_decoded.element_handle())
            pad_img.scroll_into_view_if_needed()
            decoded_before = pad_decoded.screenshot()
            size = pad_img.bounding_box()
            pad_img.click(position={"x": size["width"] * 0.25, "y": size["height"] * 0.75})  # z = (-1.5, -1.5)
            decoded_after = _wait_for_new_image(pad_decoded, decoded_before, UPDATE_S)
            page.screenshot(path=ARTIFACTS / "pad_click.png")
            pad_changed = float((np.abs(_pixels(decoded_after) - _pixels(decoded_before)) > 8).mean())
            assert pad_changed > 0.01, f"clicking the pad changed only {pad_changed:.2%} of the decoded image's pixels"
            readouts = [float(r.replace("\u2212", "-")) for r in pad_cell.locator(".widget-readout").all_inner_texts()]
            assert readouts == pytest.approx([-1.5, -1.5], abs=0.051), f"pad click at (25%, 75%) gave z = {readouts}"

            # Ask the kernel when it started each of those updates: a new cell, typed and run like a student would.
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first.click()  # select the cell, command mode
            page.keyboard.press("b")  # new cell below
            page.keyboard.press("Enter")  # edit it
            page.keyboard.insert_text(f"print(list(explorer.update_log)[-{KEY_PRESSES}:])")  # no auto-closed brackets
            page.keyboard.press("Control+Enter")
            output = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".jp-OutputArea-output").first
            output.wait_for(state="visible", timeout=UPDATE_S * 1000)
            kernel_log = ast.literal_eval(output.inner_text().strip())
            page.screenshot(path=ARTIFACTS / "after_keys.png")
        except Exception:
            # what the browser showed when it went wrong, for the person reading the failure
            page.screenshot(path=ARTIFACTS / "failure.png")
            (ARTIFACTS / "failure.html").write_text(page.content())
            raise
        finally:
            context.close()

    runtime = time.monotonic() - started
    kernel_start_ms = [1000 * wall for wall, _ in kernel_log]
    decode_to_display = [shown - start for shown, start in zip(src_times, kernel_start_ms)]
    key_to_display = [shown - key for shown, key in zip(src_times, key_times)]
    report = {
        "changed_pixel_fraction_after_drag": round(changed, 4),
        "readout": [readout_before, readout_after],
        "changed_pixel_fraction_after_pad_click": round(pad_changed, 4),
        "kernel_update_ms": _summary([ms for _, ms in kernel_log]),
        "decode_to_display_ms": _summary(decode_to_display),
        "keypress_to_display_ms": _summary(key_to_display),
        "browser_part_s": round(runtime, 1),
        "server_websocket_nodelay": NODELAY,
    }
    (ARTIFACTS / "latency.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    # Same clock, causal order: each image appears after its update started and after its key press.
    assert all(0 <= v < UPDATE_S * 1000 for v in decode_to_display + key_to_display), report
    assert report["decode_to_display_ms"]["median"] < 250, report  # live, with margin for a loaded 2-core CI machine


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1), "n": len(values)}

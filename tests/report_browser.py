"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
NUL-terminated JSON on file descriptors 3 and 4), stdlib only. Enough to open a page, run
JavaScript in it or in one of its frames, and take screenshots."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page (``with Browser(tmp) as b: b.open(url)``)."""

    def __init__(self, profile: Path, width: int = 1600, height: int = 1000) -> None:
        if CHROMIUM is None:
            raise BrowserError("chromium not found")
        to_child, self._out = os.pipe()  # we write commands, Chromium reads them on fd 3
        self._in, from_child = os.pipe()  # Chromium writes results on fd 4
        # the child's ends, copied above 4 (so that placing them on 3 and 4 cannot clobber them)
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]

        def fds() -> None:  # in the child, before exec: only these two are inherited
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--hide-scrollbars", "about:blank"]  # fmt: skip
        self._proc = subprocess.Popen(
            [CHROMIUM, *flags],
            close_fds=False,  # the parent's other descriptors are close-on-exec (PEP 446)
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fd in (to_child, from_child, *ends):
            os.close(fd)
        self._buf, self._id, self.session = b"", 0, None
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            attached = self.call("Target.attachToTarget", targetId=target, flatten=True)
            self.session = attached["sessionId"]
            self.call("Page.enable")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        os.close(self._out)
        os.close(self._in)
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise BrowserError("no answer from Chromium")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one DevTools command (to the page once attached) and return its result."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]

    def eval(self, js: str, context: int | None = None) -> Any:
        """Value of a JavaScript expression in the page (or in an execution context)."""
        extra = {} if context is None else {"contextId": context}
        res = self.call("Runtime.evaluate", expression=js, returnByValue=True, **extra)
        if "exceptionDetails" in res:
            raise BrowserError(f"{js}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, js: str, timeout: float = 20) -> Any:
        """Poll until a JavaScript expression is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.eval(js):
                return value
            time.sleep(0.2)
        raise BrowserError(f"timed out waiting for {js}")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def frame_text(self) -> str:
        """Rendered text (innerText) of the page's first child frame (an iframe), or ''."""
        frames = self.call("Page.getFrameTree")["frameTree"].get("childFrames", [])
        if not frames:
            return ""
        js = "document.body ? document.body.innerText : ''"
        try:
            world = self.call("Page.createIsolatedWorld", frameId=frames[0]["frame"]["id"])
            return self.eval(js, context=world["executionContextId"]) or ""
        except BrowserError as err:  # the frame navigated between the two calls: not loaded yet
            if "context" in str(err) or "frame" in str(err).lower():
                return ""
            raise

    def wait_frame_text(self, needle: str, timeout: float = 20) -> str:
        """The first child frame's text, once it contains ``needle``."""
        deadline = time.monotonic() + timeout
        while needle not in (text := self.frame_text()):
            if time.monotonic() > deadline:
                raise BrowserError(f"no frame showing {needle!r}; last text: {text[:300]!r}")
            time.sleep(0.2)
        return text

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

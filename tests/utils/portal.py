"""Helpers for the portal's end-to-end test: a large valid video, polling with a deadline, reviewers' emails."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cli.demo_reviewers import link_in_email
from credflow.media.samples import make_video
from tests.utils.identity import emailed_sign_in_links

MIB = 1 << 20


def padded_mp4(path: Path, size: int, *, seconds: float = 610, ffmpeg: str = "ffmpeg") -> Path:
    """A playable MP4 of ``seconds`` (a small, 1 fps test pattern) padded to ``size`` bytes by a ``free`` box.

    The padding is one ISO-BMFF ``free`` box after ``moov`` and ``mdat`` (players and ffprobe skip it, and
    the completeness check walks it), written sparse, so the file is made in a few seconds whatever its size.
    """
    make_video(path, seconds=seconds, width=160, height=120, fps=1, audio=False, ffmpeg=ffmpeg)
    start = path.stat().st_size
    padding = size - start
    if padding < 8 or padding >= 1 << 32:
        raise ValueError(f"cannot pad a {start}-byte clip to {size} bytes with one 32-bit free box")
    with path.open("r+b") as out:
        out.seek(start)
        out.write(struct.pack(">I4s", padding, b"free"))
        out.truncate(size)
    return path


def wait_for(what: str, condition: Callable[[], object], timeout: float = 60, every: float = 0.1) -> object:
    """Poll ``condition`` until it is truthy (and return it); fail naming ``what`` after ``timeout`` seconds.

    A deadline on the monotonic clock and a sleep, never a timed wait (libfaketime never lets one time out).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def new_review_links(outbox: Path, seen: set[str]) -> list[str]:
    """Review links of assignment emails in ``outbox`` not in ``seen`` (their names are added to it)."""
    links = []
    for eml in sorted(outbox.glob("assignment-*.eml")):
        if eml.name in seen:
            continue
        seen.add(eml.name)
        link = link_in_email(eml)
        if link is not None:
            links.append(link)
    return links


def sign_in(browser: Any, url: str, outbox: Path, email: str, *, next_path: str, bypass_csp: bool = True) -> Any:
    """A new browser context signed in as ``email`` through the emailed link; its page.

    ``bypass_csp``: the context skips the pages' Content Security Policy (axe is injected past it).
    """
    context = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{url}/sign-in?next={next_path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    # The link's path on this server (the services' public URL may name another port).
    page.goto(url + urlsplit(emailed_sign_in_links(outbox, email)[-1]).path)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{next_path}")
    return page


#: Visible links and buttons with a background of their own whose text contrast is below WCAG AA (4.5:1).
_LOW_CONTRAST_JS = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const found = [];
  for (const el of document.querySelectorAll('a, button')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || !el.offsetParent) continue;
    const style = getComputedStyle(el);
    const bg = rgb(style.backgroundColor);
    if (bg.length < 3 || (bg.length === 4 && bg[3] < 1)) continue;  // see-through: axe judges it with the page
    const [a, b] = [lum(rgb(style.color)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) found.push([el.textContent.trim(), Math.round(ratio * 100) / 100]);
  }
  return found;
}"""


def low_contrast_controls(page: Any) -> list[list[Any]]:
    """Visible links and buttons drawn on their own background whose text contrast is under 4.5:1: [text, ratio].

    axe-core passed pages whose buttons were drawn white on white (it leaves some colour pairs for a
    person to review); this check does not.
    """
    found: list[list[Any]] = page.evaluate(_LOW_CONTRAST_JS)
    return found

"""How the operator commands fail: one clear line on stderr and a non-zero exit, never a
traceback.

A command raises :class:`CommandError` for what it can name (a refused token, a missing
file); :func:`one_line` words what escapes it (an unreachable service, a bad setting, an
unexpected error). ``CUNGDAN_DEBUG=1`` lets the traceback through, for a bug report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

import httpx
import pydantic

from .processes import ProcessStartError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure the command has worded itself, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


class OneLineParser(argparse.ArgumentParser):
    """argparse, whose refusals of a bad argument are one line (not the usage block)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see: {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def refusal(response: httpx.Response, service: str) -> CommandError | None:
    """The one-line error of an answer >= 400 (None below): a refused token is named so."""
    if response.status_code < 400:
        return None
    detail = _problem_detail(response)
    code = response.status_code
    if code == 401:
        return CommandError(f"the {service} refused the token (401): {detail}; give a valid "
                            "one with --token or CUNGDAN_TOKEN")
    if code == 403:
        return CommandError(f"the {service} refused the token (403): {detail}")
    if code == 429:
        wait = response.headers.get("retry-after")
        return CommandError(f"the {service} is rate limiting this token (429): try again"
                            f"{f' in {wait} s' if wait else ' later'}")
    if code == 413:
        return CommandError(f"the {service} refused the body as too large (413): {detail}")
    if code == 404:
        url = response.request.url
        return CommandError(f"the {service} at {_origin(url)} has no {url.path}"
                            f" (404): is this the {service}, and is it up to date?")
    return CommandError(f"the {service} answered {code}: {detail}")


def check(response: httpx.Response, service: str) -> httpx.Response:
    """``response`` if it is not an error; else raise its :func:`refusal`."""
    error = refusal(response, service)
    if error is not None:
        raise error
    return response


def one_line(exc: BaseException, service: str | None) -> str:
    """One line for an exception a command did not word itself."""
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return str(refusal(exc.response, service or "service"))
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"bad {service or 'service'} URL: {exc}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        where = _url_of(exc)
        return (f"cannot reach the {service or 'service'}{f' at {where}' if where else ''} "
                f"({_reason(exc)}): is it running (make run)? Its address comes from "
                f"{_settings_hint(service)}")
    if isinstance(exc, httpx.TimeoutException):
        return f"the {service or 'service'} at {_url_of(exc)} did not answer in time"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to the {service or 'service'} at {_url_of(exc)} failed: {_reason(exc)}"
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = "_".join(str(p) for p in first["loc"])
        if exc.title.endswith(("Settings", "Addresses")):  # pydantic-settings: CUNGDAN_*
            return f"bad setting CUNGDAN_{where.upper()}={first.get('input')!r}: {first['msg']}"
        return f"invalid {exc.title}: {where}: {first['msg']}"
    if isinstance(exc, ProcessStartError):
        return str(exc).splitlines()[0].rstrip(":")
    if isinstance(exc, TimeoutError):
        return str(exc) or "timed out"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return f"unexpected {type(exc).__name__}: {exc} (CUNGDAN_DEBUG=1 shows the traceback)"


def _settings_hint(service: str | None) -> str:
    if service == "ingest":
        return "--ingest, CUNGDAN_INGEST_URL or CUNGDAN_INGEST_HOST/CUNGDAN_INGEST_PORT"
    if service == "projector":
        return ("--projector, CUNGDAN_PROJECTOR_URL or "
                "CUNGDAN_PROJECTOR_HOST/CUNGDAN_PROJECTOR_PORT")
    return "the CUNGDAN_* settings"


def _problem_detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0] if response.text.strip() else \
            response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or response.reason_phrase)
    return response.reason_phrase


def _origin(url: httpx.URL) -> str:
    """``scheme://host:port`` of a URL."""
    return f"{url.scheme}://{url.netloc.decode()}"


def _url_of(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # no request attached
        return ""
    return _origin(url)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[-1] if text else type(exc).__name__

"""What the hardest /send_bulk bodies cost the web process before they are queued or refused.

    .venv/bin/python -m bench.bulk_validation [--cases a,b] [--timeout 120] [--scale 1.0]

Each case is a JSON body of at most the body limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2 MiB) built
to make templating, validation or DRF do as much work as possible: placeholders expanding to
large values, deep and wide spintax, spintax that forms placeholders, many recipients each
with large or many params, a comma-separated recipient string. The measured path is the view's
own: the JSON parser on the body bytes, then SendBulkSerializer.is_valid() (rendering, message
validation). Media URLs name literal public addresses, so no DNS lookup is involved.

Every case runs in its own child process, twice: once for CPU time (time.process_time) and once
under tracemalloc for the peak of Python allocations (tracemalloc slows the code, so its run is
not timed). "parse MB" is the peak of the JSON parse alone, which every endpoint pays for a body
of that size: the floor under "peak MB". A case still running after --timeout seconds is killed
and shown as such. `--scale` shrinks the cases that would take minutes or gigabytes on unfixed code.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

BODY_LIMIT = 2 * 2**20
TEXT_LIMIT = 65_536
PUBLIC_IP = "93.184.215.14"


def _phones(n: int) -> list[str]:
    return [f"6281{i:09d}" for i in range(n)]


def _fit(make: Callable[[int], dict[str, Any]], hi: int) -> dict[str, Any]:
    """The largest make(n) (n <= hi) whose JSON fits under the body limit."""
    lo, best = 1, make(1)
    while lo <= hi:
        mid = (lo + hi) // 2
        body = make(mid)
        if len(json.dumps(body)) <= BODY_LIMIT - 1024:
            best, lo = body, mid + 1
        else:
            hi = mid - 1
    return best


def case_issue_placeholder(scale: float) -> dict[str, Any]:
    """The audit's 103 KiB body: one recipient, a template of 21,845 `%a%`, a = 100 KiB."""
    return {
        "message": "%a%" * (TEXT_LIMIT // 3),
        "recipients": [{"chat_id": "6281200000001", "params": {"a": "x" * int(100 * 1024 * scale)}}],
    }


def case_placeholder_every_recipient(scale: float) -> dict[str, Any]:
    """1,000 recipients, each with the largest `a` that fits, under the same 21,845 `%a%`."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {
            "message": "%a%" * (TEXT_LIMIT // 3),
            "recipients": [{"chat_id": p, "params": {"a": "x" * size}} for p in _phones(n)],
        },
        BODY_LIMIT // n,
    )


def case_spintax_deep(scale: float) -> dict[str, Any]:
    """1,000 recipients, a 64 KiB template of 50-deep nested groups: 50 rounds over the text."""
    unit = "{" * 50 + "a" + "|b}" * 50
    return {
        "message": (unit * (TEXT_LIMIT // len(unit)))[:TEXT_LIMIT],
        "recipients": ",".join(_phones(max(1, int(1000 * scale)))),
    }


def case_spintax_wide(scale: float) -> dict[str, Any]:
    """1,000 recipients, a template of 21,845 `{|}` groups: one callback each, per recipient."""
    return {
        "message": "{|}" * (TEXT_LIMIT // 3),
        "recipients": ",".join(_phones(max(1, int(1000 * scale)))),
    }


def case_own_captions_deep(scale: float) -> dict[str, Any]:
    """1,000 distinct messages whose own captions (no template limit applied) fill the body
    with 50-deep spintax."""
    unit = "{" * 50 + "a" + "|b}" * 50
    n = max(1, int(1000 * scale))
    return _fit(
        lambda reps: {
            "messages": [{"chat_id": p, "caption": unit * reps} for p in _phones(n)],
        },
        10_000,
    )


def case_one_huge_caption(scale: float) -> dict[str, Any]:
    """One message whose own caption is the whole body of 50-deep spintax."""
    unit = "{" * 50 + "a" + "|b}" * 50
    return _fit(lambda reps: {"messages": [{"chat_id": "6281200000001", "caption": unit * reps}]}, 100_000)


def case_spintax_makes_placeholders(scale: float) -> dict[str, Any]:
    """Spintax that spins into placeholders (`%{a|a}%`), each a large value, per recipient."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {
            "message": "%{a|a}%" * (TEXT_LIMIT // 7),
            "recipients": [{"chat_id": p, "params": {"a": "{x|y}" * size}} for p in _phones(n)],
        },
        BODY_LIMIT // n // 5,
    )


def case_many_params(scale: float) -> dict[str, Any]:
    """1,000 recipients with as many tiny params as fit: DRF validates each value."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda k: {
            "message": "hi %p0%",
            "recipients": [{"chat_id": p, "params": {f"p{j}": "" for j in range(k)}} for p in _phones(n)],
        },
        BODY_LIMIT // n // 8,
    )


def case_params_at_the_caps(scale: float) -> dict[str, Any]:
    """1,000 recipients with 100 params each (the cap), values as long as fit: all valid."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {
            "message": "hi %p0% %p99%",
            "recipients": [
                {"chat_id": p, "params": {f"p{j}": "v" * size for j in range(100)}} for p in _phones(n)
            ],
        },
        BODY_LIMIT // n // 100,
    )


def case_long_values_fill_the_text(scale: float) -> dict[str, Any]:
    """Recipients with one 4,096-character value each, under a template of 16 `%a%`: every
    rendering is the longest text allowed (65,536 characters)."""
    n = max(1, int(500 * scale))
    return {
        "message": "%a%" * 16,
        "recipients": [{"chat_id": p, "params": {"a": "x" * 4096}} for p in _phones(n)],
    }


def case_own_captions_plain(scale: float) -> dict[str, Any]:
    """1,000 distinct messages with plain captions as long as fit: all valid."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {"messages": [{"chat_id": p, "caption": "x" * size} for p in _phones(n)]},
        BODY_LIMIT // n,
    )


def case_recipient_string(scale: float) -> dict[str, Any]:
    """A comma-separated recipient string filling the body: split and validated one by one
    before the count is checked."""
    return {"message": "hi", "recipients": ",".join(["1"] * int((BODY_LIMIT // 2 - 100) * scale))}


def case_media_url_params(scale: float) -> dict[str, Any]:
    """1,000 document messages whose media_url template is `%a%` repeated, a large value each."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {
            "type": "document",
            "media_url": f"https://{PUBLIC_IP}/" + "%a%" * 600,
            "recipients": [{"chat_id": p, "params": {"a": "x" * size}} for p in _phones(n)],
        },
        BODY_LIMIT // n,
    )


def case_long_media_urls(scale: float) -> dict[str, Any]:
    """1,000 document messages, each with its own media URL as long as fits: all valid."""
    n = max(1, int(1000 * scale))
    return _fit(
        lambda size: {
            "type": "document",
            "messages": [
                {"chat_id": p, "media_url": f"https://{PUBLIC_IP}/" + "d" * size} for p in _phones(n)
            ],
        },
        1_900,
    )


def case_honest_blast(scale: float) -> dict[str, Any]:
    """A legitimate bulk for comparison: 1,000 recipients, a 300-character spun and filled text."""
    text = "{Hi|Hello|Hey} %name%, {your|the} order %order% {is ready|has shipped}. " * 4
    return {
        "message": text,
        "recipients": [
            {"chat_id": p, "params": {"name": f"Customer {i}", "order": f"A{i:06d}"}}
            for i, p in enumerate(_phones(1000))
        ],
    }


CASES: dict[str, Callable[[float], dict[str, Any]]] = {
    "issue_placeholder": case_issue_placeholder,
    "placeholder_every_recipient": case_placeholder_every_recipient,
    "spintax_deep": case_spintax_deep,
    "spintax_wide": case_spintax_wide,
    "own_captions_deep": case_own_captions_deep,
    "one_huge_caption": case_one_huge_caption,
    "spintax_makes_placeholders": case_spintax_makes_placeholders,
    "many_params": case_many_params,
    "params_at_the_caps": case_params_at_the_caps,
    "long_values_fill_the_text": case_long_values_fill_the_text,
    "own_captions_plain": case_own_captions_plain,
    "recipient_string": case_recipient_string,
    "media_url_params": case_media_url_params,
    "long_media_urls": case_long_media_urls,
    "honest_blast": case_honest_blast,
}


def _validate(raw: bytes) -> tuple[bool, list[str]]:
    from api.serializers.queue import SendBulkSerializer
    from kernel.parsers import JSONParser

    data = JSONParser().parse(io.BytesIO(raw))
    serializer = SendBulkSerializer(data=data)
    ok = serializer.is_valid()
    return ok, [] if ok else sorted(_flat_keys(serializer.errors))[:3]


def _flat_keys(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [k for name, v in errors.items() for k in _flat_keys(v, f"{prefix}{name}.")]
    return [prefix.rstrip(".")]


def _child(name: str, scale: float, traced: bool, out: Any) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
    import django

    django.setup()
    raw = json.dumps(CASES[name](scale)).encode()
    _validate(json.dumps(CASES["honest_blast"](0.01)).encode())  # warm imports and caches
    if traced:
        from kernel.parsers import JSONParser

        tracemalloc.start()
        JSONParser().parse(io.BytesIO(raw))
        parse_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        tracemalloc.start()
        ok, errors = _validate(raw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out.send({"peak_mb": peak / 2**20, "parse_mb": parse_peak / 2**20, "ok": ok, "errors": errors})
    else:
        started = time.process_time()
        ok, errors = _validate(raw)
        cpu_s = time.process_time() - started
        out.send({"cpu_s": cpu_s, "ok": ok, "errors": errors, "kib": len(raw) / 1024})


def _run(name: str, scale: float, traced: bool, timeout: float) -> dict[str, Any] | None:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(name, scale, traced, send))
    proc.start()
    result = receive.recv() if receive.poll(timeout) else None
    if proc.is_alive():
        proc.kill()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    print(f"{'case':30} {'body KiB':>9} {'CPU s':>8} {'peak MB':>9} {'parse MB':>9}  outcome")
    for name in args.cases.split(","):
        timed = _run(name, args.scale, False, args.timeout)
        traced = _run(name, args.scale, True, args.timeout) if timed else None
        if timed is None:
            print(f"{name:30} {'':>9} {'>' + str(int(args.timeout)):>8} {'':>9}  killed after --timeout")
            continue
        outcome = "valid" if timed["ok"] else "400 " + ", ".join(timed["errors"])
        peak = f"{traced['peak_mb']:9.1f} {traced['parse_mb']:9.1f}" if traced else f"{'?':>9} {'?':>9}"
        print(f"{name:30} {timed['kib']:9.0f} {timed['cpu_s']:8.3f} {peak}  {outcome}", flush=True)


if __name__ == "__main__":
    main()

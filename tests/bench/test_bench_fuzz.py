"""bench/fuzz.py pieces that need no broker: the message plan and the accounting of outcomes."""

from __future__ import annotations

from collections import Counter

from zeikan.bench.fuzz import Sent, plan, report
from zeikan.schemas.codec import codec_for
from zeikan.schemas.hostile import HEAVY_KINDS, HOSTILE_KINDS

NOW = 1_790_000_000_000


def test_the_plan_mixes_every_kind_with_good_declarations_kept_in_filing_order() -> None:
    messages = plan(n_bad=300, n_good=50, heavy_each=1, big_each=2, now_ms=NOW, seed=3)
    kinds = Counter(kind for kind, _, _ in messages)
    assert kinds["good"] == 50 and sum(kinds.values()) == 350
    assert set(kinds) - {"good"} == set(HOSTILE_KINDS)
    assert all(kinds[k] == 1 for k in HEAVY_KINDS)
    codec = codec_for("declarations")
    filed = [codec.decode(value)["filed_at"] for kind, _, (_, _, value) in messages if kind == "good"]
    assert filed == sorted(filed)
    assert [kind for kind, _, _ in messages[:50]].count("good") < 50  # shuffled, not appended
    shuffled = plan(n_bad=300, n_good=50, heavy_each=1, big_each=2, now_ms=NOW, seed=3, shuffle_good=True)
    filed = [codec.decode(value)["filed_at"] for kind, _, (_, _, value) in shuffled if kind == "good"]
    assert filed != sorted(filed) and len(filed) == 50


def test_the_report_counts_losses_decisions_and_dead_letters_per_kind(capsys) -> None:
    sent = [
        Sent("good", "", "declarations", 0, 0, "GOOD-1"),
        Sent("good", "", "declarations", 0, 1, "GOOD-2"),
        Sent("year_2099", "IMPLAUSIBLE_TIME", "declarations", 1, 0, "HOSTILE-1"),
        Sent("enum_minus_one", "DECODE", "declarations", 1, 1, "HOSTILE-2"),
        Sent("random_bytes", "DECODE", "declarations", 1, 2, ""),
        Sent("scan_year_2099", "IMPLAUSIBLE_TIME", "scans", 0, 0, "HOSU0000011"),
    ]
    decided = {"GOOD-1": 1, "HOSTILE-1": 1}
    letters = {("declarations", 1, 1): "DECODE", ("declarations", 1, 2): "SEMANTIC"}
    summary = report(sent, decided, letters, exits=[1], worker_log="Traceback\nTraceback\n", seconds=1.0)
    assert (summary["good_decided"], summary["good_lost"]) == (1, 1)
    assert (summary["bad_dead_lettered"], summary["bad_dead_lettered_as_expected"]) == (2, 1)
    assert (summary["bad_decided"], summary["bad_lost"], summary["lost"]) == (1, 1, 2)
    assert (summary["crashes"], summary["log_tracebacks"]) == (1, 2)
    assert '"kind": "random_bytes", "expect": "DECODE", "sent": 1, "dead_lettered": 1, "as_SEMANTIC": 1' in capsys.readouterr().out

"""Officer worklist speed: 10,000 decisions folded into the web app's index, then the worklist page served.

``python -m zeikan.bench.ui [--decisions N]`` prints one JSON line: the Avro decode + fold rate
of the feed, and the wall-clock time of the worklist page (cold: first request after the
fill, which sorts the buckets; warm: again; filtered by text; the last page), each through
the whole ASGI app (routing, session, template rendering), in the same run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import yaml
from starlette.testclient import TestClient

from zeikan.bench.common import emit, timed
from zeikan.schemas.codec import codec_for
from zeikan.schemas.examples import example_record
from zeikan.ui.app import create_app
from zeikan.ui.settings import UiSettings
from zeikan.ui.users import Users

LANES = ("RELEASE", "DOCUMENT_CHECK", "SCAN", "PHYSICAL_EXAM")


def events(n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """``n`` declarations and their decisions (two offices, all lanes), Avro-encoded as on the wire."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        did = f"DEC-{k:07d}"
        office = "JPYOK" if k % 2 else "JPTYO"
        decl = example_record("declarations")
        decl.update(declaration_id=did, office_id=office, importer_id=f"IMP-{rng.randint(1, 500):04d}")
        dec = example_record("decisions")
        dec.update(decision_id=f"d-{k}", declaration_id=did, office_id=office, risk_score=rng.random(),
                   action=rng.choices(LANES, (40, 30, 20, 10))[0], random_selected=rng.random() < 0.02)
        out += [("declarations", codec_for("declarations").encode(decl)), ("decisions", codec_for("decisions").encode(dec))]
    return out


def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        users = Path(tmp) / "users.yaml"
        users.write_text(yaml.safe_dump({"users": {"bench": {"offices": ["JPYOK", "JPTYO"]}}}))
        settings = UiSettings(auth_mode="header", users_file=str(users), data_dir=tmp, image_store=f"{tmp}/images")
        app = create_app(settings, Users.load(users, need_passwords=False), follow=False)
        index = app.state.ui.index
        wire = events(args.decisions)
        with timed() as fold:
            for topic, value in wire:
                index.apply(topic, codec_for(topic).decode(value))
        client = TestClient(app, headers={settings.header_name: "bench"})
        seconds = {}
        for name, path in (("cold", "/worklist"), ("warm", "/worklist"), ("filtered", "/worklist?q=imp-0042"),
                           ("last_page", "/worklist?page=100000"), ("lane", "/worklist?lane=SCAN&office=JPYOK")):
            started = time.perf_counter()
            response = client.get(path)
            seconds[name] = time.perf_counter() - started
            assert response.status_code == 200, response.text[:200]
        shown = index.worklist({"JPYOK", "JPTYO"}).total
    emit("ui", decisions=args.decisions, selected_rows=shown, fold_records_per_s=fold.rate(len(wire)),
         **{f"worklist_{k}_s": v for k, v in seconds.items()}, under_1s=max(seconds.values()) < 1.0)


if __name__ == "__main__":
    main()

"""``zeikan images ingest|profiles|ls|show|score|train|evaluate|onboard|annotate|al-experiment``.

Commands only wire things: formats live in :mod:`zeikan.images.canonical` and
:mod:`zeikan.images.ingest`, storage in :mod:`zeikan.images.store`, the model in
:mod:`zeikan.images.scorer` (torch only for ``train``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from zeikan.images.errors import ImageError
from zeikan.images.settings import ImagesSettings

images_app = typer.Typer(help="X-ray images: canonical store, image model, annotation queue.", no_args_is_help=True)
annotate_app = typer.Typer(help="Annotation queue: export tasks, import answers, labels from inspections.", no_args_is_help=True)
images_app.add_typer(annotate_app, name="annotate")

STORE_HELP = "Image store URL (path, file://, memory://, s3://...); env ZEIKAN_IMAGE_STORE."


def _store_url(store: str | None) -> str:
    return store or ImagesSettings.from_env().store_url


def _dump(obj: object, out: Path | None) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        typer.echo(f"wrote {out}", err=True)


def _store_all(target_url: str, converted: list[tuple[str, object]], refused: list[tuple[str, str]], total: int) -> None:
    """Store every converted image, or none of them if anything was refused (never a half-ingested export)."""
    from zeikan.images.store import open_store

    for name, reason in refused:
        typer.echo(f"refused\t{name}\t{reason}", err=True)
    if refused:
        raise ImageError(f"{len(refused)} of {total} scans refused (listed above); nothing stored, fix them and ingest again")
    target = open_store(target_url)
    for _, image in converted:
        stored = target.put(image)  # type: ignore[arg-type]
        typer.echo(f"{stored.sha256}\t{stored.uri}")
    typer.echo(f"stored {len(converted)} of {total} scans", err=True)


def _pitch(value: str) -> tuple[float, float]:
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise ImageError(f"--pitch-mm {value!r}: give one positive number or X,Y in mm")
    return (parts[0], parts[-1])


@images_app.command("ingest")
def ingest_command(
    inputs: list[Path] = typer.Argument(..., help="With --profile: the export folder or its manifest. Else vendor files: "
                                        ".png/.jpg 8-bit, or 16-bit .png/.tif/.raw with --calibration."),
    profile: str = typer.Option(None, "--profile", help="Vendor profile: a YAML file or a shipped name (`zeikan images profiles`)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    scanner_model: str = typer.Option("unknown", "--scanner-model", help="Scanner model (8-bit images)."),
    pitch_mm: str = typer.Option("5", "--pitch-mm", help="Native pitch of 8-bit images in mm: one value or X,Y."),
    inverted: bool = typer.Option(False, "--inverted", help="8-bit images show dense matter bright."),
    calibration: Path = typer.Option(None, "--calibration", help="Detector calibration JSON (16-bit PNG/TIFF, raw)."),
    width: int = typer.Option(0, "--width", help="Width of raw images (pixels)."),
    height: int = typer.Option(0, "--height", help="Height of raw images (pixels)."),
    container_id: str = typer.Option("", "--container-id", help="Container id (default: none)."),
) -> None:
    """Convert vendor images to the canonical format and store them; any refused scan means nothing is stored."""
    converted: list[tuple[str, object]] = []
    refused: list[tuple[str, str]] = []
    if profile:
        from zeikan.images.profile import load_profile
        from zeikan.images.profile_ingest import convert_export

        if len(inputs) != 1:
            raise ImageError("with --profile give one export folder or manifest")
        for outcome in convert_export(load_profile(profile), inputs[0]):
            (converted.append((outcome.scan_id, outcome.image)) if outcome.image is not None
             else refused.append((outcome.scan_id, outcome.refused or "")))
    else:
        from zeikan.images.file_ingest import FileOptions, convert_file
        from zeikan.images.ingest import Calibration

        try:
            cal = Calibration.from_json(calibration.read_bytes(), str(calibration)) if calibration else None
        except OSError as exc:
            raise ImageError(f"cannot read --calibration {str(calibration)!r}: {exc.strerror or exc}") from exc
        opts = FileOptions(scanner_model, _pitch(pitch_mm), inverted, cal, width, height, container_id)
        for path in inputs:
            try:
                converted.append((str(path), convert_file(path, opts)))
            except (ImageError, OSError) as exc:
                refused.append((str(path), str(exc)))
    _store_all(_store_url(store), converted, refused, len(converted) + len(refused))


@images_app.command("profiles")
def profiles_command() -> None:
    """List the vendor profiles shipped with zeikan."""
    from zeikan.images.profile import load_profile, shipped_profiles

    for name in shipped_profiles():
        p = load_profile(name)
        typer.echo(f"{name}\t{p.scanner_model}\t{p.files.format} {p.files.pixels.bit_depth}-bit {'/'.join(p.files.channels)}")


@images_app.command("ls")
def ls_command(store: str = typer.Option(None, "--store", help=STORE_HELP)) -> None:
    """List stored images: sha256, scanner model, scan id, latest verdict."""
    from zeikan.images.labels import latest_verdict
    from zeikan.images.store import open_store

    source = open_store(_store_url(store))
    for sha in source.ls():
        meta = source.get(sha).meta
        typer.echo(f"{sha}\t{meta.scanner_model}\t{meta.scan_id}\t{latest_verdict(source.labels(sha)) or '-'}")


@images_app.command("show")
def show_command(
    ref: str = typer.Argument(..., help="sha256 or URI of a stored image."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    png: Path = typer.Option(None, "--png", help="Also write a preview PNG (transmission, energies stacked)."),
) -> None:
    """Print an image's metadata, shape, attenuation range and labels as JSON."""
    from dataclasses import asdict

    import numpy as np
    from PIL import Image

    from zeikan.images.store import open_store, store_of_uri

    source = store_of_uri(ref) if "://" in ref else open_store(_store_url(store))
    image = source.get(ref)
    att = image.attenuation()
    sha = ref.rsplit("/", 1)[-1].split(".")[0]
    _dump({"meta": asdict(image.meta), "shape": list(image.pixels.shape), "attenuation_max": float(att.max()),
           "labels": [json.loads(lb.to_json()) for lb in source.labels(sha)]}, None)
    if png is not None:
        grey = np.clip(255.0 * np.exp(-np.concatenate(list(att), axis=0)), 0, 255).astype(np.uint8)
        Image.fromarray(grey).save(png)


@images_app.command("export-dicos")
def export_dicos_command(
    ref: str = typer.Argument(..., help="sha256 or URI of a stored image."),
    out: Path = typer.Option(..., "--out", help="DICOS file to write (.dcm)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Write a stored image and its labels as a DICOS Digital X-Ray object (pydicom)."""
    from zeikan.images.dicos import to_dicos
    from zeikan.images.store import open_store

    source = open_store(_store_url(store))
    image = source.get(ref)
    sha = ref.rsplit("/", 1)[-1].split(".")[0]
    out.write_bytes(to_dicos(image, source.labels(sha)))
    typer.echo(f"wrote {out}", err=True)


@images_app.command("import-dicos")
def import_dicos_command(
    files: list[Path] = typer.Argument(..., help="DICOS files written by export-dicos."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Store DICOS Digital X-Ray objects (and their labels) as canonical images; any unreadable file stores nothing."""
    from zeikan.images.dicos import from_dicos

    converted: list[tuple[str, object]] = []
    refused: list[tuple[str, str]] = []
    labels = []
    for path in files:
        try:
            image, found = from_dicos(path.read_bytes(), str(path))
            converted.append((str(path), image))
            labels.extend(found)
        except (ImageError, OSError) as exc:
            refused.append((str(path), str(exc)))
    _store_all(_store_url(store), converted, refused, len(files))
    if labels:
        from zeikan.images.store import open_store

        target = open_store(_store_url(store))
        for label in labels:
            target.put_label(label)


@images_app.command("train")
def train_command(
    out: Path = typer.Option(Path("models/artifacts/image"), "--out", help="Model directory to write."),
    n_train: int = typer.Option(2000, "--n-train", help="Rendered training images (training scanner models)."),
    n_heldout: int = typer.Option(800, "--n-heldout", help="Rendered images of the held-out scanner model."),
    epochs: int = typer.Option(12, "--epochs", help="Epochs of stage 1 (the 50 mm CNN)."),
    fine_epochs: int = typer.Option(16, "--fine-epochs", help="Epochs of stage 2 (the 25 mm CNN, on patches)."),
    n_head: int = typer.Option(1600, "--n-head", help="Rendered images (training scanner models, not seen by the stages) for the manifest head; 0: no head (a graph of the image alone)."),
    stage1_from: Path = typer.Option(None, "--stage1-from", help="Keep the CNN of this single-stage model.onnx as stage 1."),
    stages_from: Path = typer.Option(None, "--stages-from", help="Keep both stages of this two-stage model.onnx (with --fine-epochs N > 0 stage 2 goes on training N epochs; 0: only the manifest head is trained)."),
    stage1_further_epochs: int = typer.Option(0, "--stage1-further-epochs", help="With --stages-from: epochs stage 1 goes on training (batch norms frozen); 0 keeps it."),
    physics_jitter: float = typer.Option(0.0, "--physics-jitter", help="Scale of the randomised scanner physics the stages train through (0: none, 1: the stated bounds)."),
    learning_rate: float = typer.Option(None, "--learning-rate", help="Peak learning rate of the stages (one cycle; default: TrainConfig's)."),
    displaced_goods: float = typer.Option(0.0, "--displaced-goods", help="Share of the training set's among-goods concealments whose package displaces the goods around it (0: none)."),
    threads: int = typer.Option(2, "--threads", help="Torch threads of the training."),
    cache: Path = typer.Option(Path("var/images-train"), "--cache", help="Where rendered sets are cached (.npz)."),
    workers: int = typer.Option(2, "--workers", help="Render processes."),
) -> None:
    """Render data, train the two-stage CNN and its manifest head on two scanner models (torch, CPU), export ONNX, evaluate on the third."""
    try:
        from zeikan.sim.xray_training import train_and_export
        from zeikan.images.model import TrainConfig
    except ImportError as exc:
        raise ImageError(f"training needs torch: pip install -e '.[train-image]' ({exc})") from exc
    from zeikan.images.dataset import MODEL_PITCH_MM, RenderedSet
    from zeikan.sim.xray_dataset import render_set
    from zeikan.sim.xray_physics import HELD_OUT_SCANNER, TRAIN_SCANNERS

    for flag, path in (("--stage1-from", stage1_from), ("--stages-from", stages_from)):
        if path is not None and not path.is_file():
            raise ImageError(f"{flag} {path}: no such model.onnx")
    if stage1_from is not None and stages_from is not None:
        raise ImageError("give --stage1-from or --stages-from, not both")
    cache.mkdir(parents=True, exist_ok=True)

    def cached(name: str, n: int, seed: int, scanners: tuple[str, ...], rate: float) -> RenderedSet:
        path = cache / f"{name}-{n}-{seed}-{MODEL_PITCH_MM:g}mm.npz"
        if path.exists():
            return RenderedSet.load(str(path))
        started = time.perf_counter()
        data = render_set(n, seed, scanners, rate, workers=workers)
        typer.echo(f"rendered {n} {name} images in {time.perf_counter() - started:.0f} s", err=True)
        data.save(str(path))
        return data

    train_set = None if stages_from and fine_epochs == 0 and stage1_further_epochs == 0 else cached("train", n_train, 1, TRAIN_SCANNERS, 0.5)
    head_set = cached("head", n_head, 13, TRAIN_SCANNERS, 0.5) if n_head > 0 else None
    heldout = cached("heldout", n_heldout, 2, (HELD_OUT_SCANNER,), 0.4)
    rate = {} if learning_rate is None else {"learning_rate": learning_rate}
    config = TrainConfig(epochs=epochs, fine_epochs=fine_epochs, physics_jitter=physics_jitter, stage1_further_epochs=stage1_further_epochs,
                         displaced_goods=displaced_goods, threads=threads, **rate)
    result = train_and_export(train_set, head_set, heldout, out, config,
                              log=lambda m: typer.echo(m, err=True), stage1_from=stage1_from, stages_from=stages_from)
    _dump(result, out / "evaluation.json")


def _images_of(source: str, profile: str | None) -> Iterator[tuple[str, Any]]:
    """(sha256, canonical image) of a store (path or URL) or, with ``profile``, of a vendor export."""
    import hashlib

    from zeikan.images.canonical import encode
    from zeikan.images.store import open_store

    if profile:
        from zeikan.images.profile import load_profile
        from zeikan.images.profile_ingest import convert_export

        refused = 0
        for outcome in convert_export(load_profile(profile), Path(source)):
            if outcome.image is None:
                refused += 1
                typer.echo(f"refused\t{outcome.scan_id}\t{outcome.refused}", err=True)
            else:
                yield hashlib.sha256(encode(outcome.image)).hexdigest(), outcome.image
        if refused:
            typer.echo(f"{refused} scans refused and not scored", err=True)
        return
    if "://" not in source:
        path = Path(source)
        if not path.is_dir():
            raise ImageError(f"{source!r} is not a folder or a store URL")
        if not (path / "objects").is_dir():
            raise ImageError(f"{source!r} is not an image store (no objects/ folder); for a vendor export give --profile")
    store = open_store(source)
    for sha in store.ls():
        yield sha, store.get(sha)


def _scores(source: str, profile: str | None, model_dir: str | None) -> list[Any]:
    from zeikan.images.store_scoring import score_images
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer

    settings = ImageScorerSettings.from_env()
    if model_dir:
        settings = replace(settings, model_dir=model_dir)
    scorer = OnnxImageScorer(settings)
    try:
        return list(score_images(_images_of(source, profile), scorer))
    finally:
        scorer.close()


@images_app.command("score")
def score_command(
    source: str = typer.Argument(..., help="Image store (path or URL) or, with --profile, a vendor export folder/manifest."),
    profile: str = typer.Option(None, "--profile", help="Vendor profile of an export (scored without storing it)."),
    model_dir: str = typer.Option(None, "--model-dir", help="ONNX model directory (default: the committed one)."),
    out: Path = typer.Option(None, "--out", help="Write JSON lines here (default: stdout)."),
) -> None:
    """Anomaly score of every image of a store or export: one JSON line per image (sha256, scan, scanner, score)."""
    from dataclasses import asdict

    lines = [json.dumps(asdict(s), sort_keys=True) for s in _scores(source, profile, model_dir)]
    text = "".join(line + "\n" for line in lines)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    typer.echo(f"scored {len(lines)} images", err=True)


@images_app.command("evaluate")
def evaluate_command(
    source: str = typer.Argument(None, help="With --labels: the image store (path or URL) or vendor export to evaluate."),
    labels: Path = typer.Option(None, "--labels", help="Labels (JSON lines or CSV: scan_id|sha256, label black/white)."),
    profile: str = typer.Option(None, "--profile", help="Vendor profile when SOURCE is a vendor export."),
    chart: Path = typer.Option(None, "--chart", help="With --labels: write ROC curves per scanner as PNG."),
    false_alarms: float = typer.Option(0.01, "--false-alarms", help="False-alarm rate at which detection is reported."),
    n: int = typer.Option(800, "--n", help="Rendered scans of the held-out scanner model."),
    seed: int = typer.Option(7, "--seed"),
    scanner: str = typer.Option(None, "--scanner", help="Rendered scanner model (default: the held-out one)."),
    model_dir: str = typer.Option(None, "--model-dir", help="ONNX model directory (default: the committed one)."),
    data_file: Path = typer.Option(None, "--data", help="Evaluate on this rendered set (.npz) instead of rendering."),
    out: Path = typer.Option(None, "--out", help="Write the JSON here (default: stdout)."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """AUC and detection at 1 % false alarms: per scanner on any store with --labels, else on rendered scans."""
    if labels is not None:
        from zeikan.images.store_scoring import evaluate_per_scanner, read_labels, write_roc_chart

        truth = read_labels(labels)
        report = evaluate_per_scanner(_scores(source or _store_url(store), profile, model_dir), truth, false_alarms)
        if chart is not None:
            write_roc_chart(report, chart)
            report["chart"] = str(chart)
        _dump(report, out)
        return
    from zeikan.images.dataset import RenderedSet
    from zeikan.images.evaluate import evaluate_set
    from zeikan.images.scorer import ImageScorerSettings
    from zeikan.sim.xray_dataset import render_set
    from zeikan.streams.engine.config import EngineConfig
    from zeikan.sim.xray_physics import HELD_OUT_SCANNER, SCANNER_MODELS

    if source is not None:
        raise ImageError("a SOURCE store or export is evaluated against --labels FILE; give --labels")
    scanner = scanner or HELD_OUT_SCANNER
    if scanner not in SCANNER_MODELS:
        raise ImageError(f"unknown rendered scanner model {scanner!r}; choose one of {', '.join(SCANNER_MODELS)}, "
                         "or evaluate a store of any scanner with SOURCE --labels FILE")
    settings = ImageScorerSettings.from_env()
    if model_dir:
        settings = replace(settings, model_dir=model_dir)
    if data_file:
        if not data_file.is_file() or data_file.suffix != ".npz":
            raise ImageError(f"--data {str(data_file)!r} must be an existing rendered set (.npz from `zeikan images train --cache`)")
        try:
            data = RenderedSet.load(str(data_file))
        except (OSError, ValueError, KeyError) as exc:
            raise ImageError(f"--data {str(data_file)!r} is not a rendered set: {type(exc).__name__}") from exc
    else:
        data = render_set(n, seed, (scanner,), concealment_rate=0.4)
    _dump(evaluate_set(data, settings, EngineConfig().post_scan_exam_threshold), out)


@images_app.command("onboard")
def onboard_command(
    source: str = typer.Argument(..., help="The scanner's clean (released) traffic: image store (path or URL) or, with --profile, a vendor export."),
    scanner: str = typer.Option(..., "--scanner", help="Scanner id of its ScanCompleted records (or a scanner model, for a fleet)."),
    declarations: Path = typer.Option(..., "--declarations", help="Declarations (JSON lines) of those scans' containers."),
    profile: str = typer.Option(None, "--profile", help="Vendor profile when SOURCE is a vendor export."),
    false_alarms: float = typer.Option(0.01, "--false-alarms", help="Share of the clean traffic allowed to reach the exam threshold."),
    scanners: str = typer.Option(None, "--scanners", help="Table of onboarded scanners (env ZEIKAN_IMAGE_SCANNERS)."),
    labelled: str = typer.Option(None, "--labelled", help="The scanner's first labelled scans (store or, with --profile, export); "
                                 "needs --labels: they decide mirror averaging."),
    labels: Path = typer.Option(None, "--labels", help="Labels of the --labelled scans (JSON lines or CSV: scan_id|sha256, label)."),
) -> None:
    """Give a scanner its input gain, exam threshold and physics calibration from its clean traffic (read by workers and replay)."""
    from zeikan.images.scanner_calibrations import LabelledScans, load_calibrations, onboard_scanner, save_calibrations
    from zeikan.images.store_scoring import read_labels
    import numpy as np
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer, _declared_items
    from zeikan.schemas.jsonl import read_jsonl

    if not declarations.is_file():
        raise ImageError(f"declarations file {str(declarations)!r} does not exist or is not a file")
    by_container: dict[str, list[dict]] = {}
    invalid = 0
    for _, record in read_jsonl(declarations, "declarations"):
        if isinstance(record, dict):
            for container in record.get("containers") or ():
                by_container.setdefault(str(container), []).append(record)
        else:
            invalid += 1
    if (labelled is None) != (labels is None):
        raise ImageError("--labelled and --labels go together: the first labelled scans and their labels")

    def declared_scans(where: str) -> tuple[list, list, list[str], int]:
        """(images, declared items, sha256) of the scans of ``where`` whose containers are declared; and how many are not."""
        images, declared, shas, undeclared = [], [], [], 0
        for sha, image in _images_of(where, profile):
            found = by_container.get(image.meta.container_id)
            if found:
                images.append(image)
                declared.append(_declared_items(found))
                shas.append(sha)
            else:
                undeclared += 1
        return images, declared, shas, undeclared

    images, declared, _, undeclared = declared_scans(source)
    first_labels = None
    if labelled is not None:
        truth = read_labels(labels)
        lab_images, lab_declared, lab_shas, lab_undeclared = declared_scans(labelled)
        undeclared += lab_undeclared
        verdicts = [truth.get(sha, truth.get(img.meta.scan_id)) for img, sha in zip(lab_images, lab_shas)]
        keep = [i for i, v in enumerate(verdicts) if v is not None]
        if not keep:
            raise ImageError("no --labelled scan with a declaration matches a label (labels name scans by scan_id or sha256)")
        first_labels = LabelledScans([lab_images[i] for i in keep], [lab_declared[i] for i in keep],
                                     np.array([verdicts[i] for i in keep], dtype=bool))
    settings = ImageScorerSettings.from_env()
    if scanners:
        settings = replace(settings, scanners_url=scanners)
    scorer = OnnxImageScorer(settings)
    try:
        entry = onboard_scanner(scorer, scanner, images, declared, false_alarms, first_labels)
        table = load_calibrations(settings.scanners_url, scorer.model_version).with_entry(entry)
    finally:
        scorer.close()
    save_calibrations(settings.scanners_url, table)
    typer.echo(json.dumps({"scanner": scanner, "exam_threshold": entry.exam_threshold, "clean_scans": entry.clean_scans,
                           "input_gain": list(entry.input_gain), "mirror_average": entry.mirror_average,
                           "labelled_scans": 0 if first_labels is None else len(first_labels.concealed),
                           "false_alarm_rate": false_alarms, "skipped_no_declaration": undeclared,
                           "skipped_invalid_declarations": invalid, "table": settings.scanners_url,
                           "image_version": table.version_of(scorer.model_version)}, sort_keys=True))


@images_app.command("al-experiment")
def al_experiment_command(
    n: int = typer.Option(600, "--n", help="Rendered scans of the held-out scanner model (pool + test)."),
    seeds: int = typer.Option(5, "--seeds"),
    target_share: float = typer.Option(0.995, "--target-share", help="Target AUC as a share of the all-labels AUC."),
    data_file: Path = typer.Option(None, "--data", help="Use this rendered set (.npz from `train --cache`) instead of rendering."),
    out: Path = typer.Option(None, "--out"),
) -> None:
    """Labels needed to reach the same AUC on a new scanner model: active (uncertainty) vs random selection."""
    from zeikan.images.active_learning import experiment, heatmap_features
    from zeikan.images.dataset import RenderedSet
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
    from zeikan.sim.xray_dataset import render_set
    from zeikan.sim.xray_physics import HELD_OUT_SCANNER

    data = RenderedSet.load(str(data_file)) if data_file else render_set(n, 11, (HELD_OUT_SCANNER,), concealment_rate=0.4)
    scorer = OnnxImageScorer(ImageScorerSettings.from_env())
    scores, heatmaps = scorer.score_inputs(data.x, data.manifests)
    scorer.close()
    _dump(experiment(heatmap_features(scores, heatmaps), data.y, seeds=seeds, rounds=25, target_share=target_share), out)


@annotate_app.command("export")
def annotate_export(
    out: Path = typer.Option(..., "--out", help="COCO JSON of the tasks."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
    limit: int = typer.Option(50, "--limit", help="How many images to ask for."),
) -> None:
    """Rank unlabeled stored images by expected information and export the top ones as COCO tasks."""
    from zeikan.images.annotation import export_coco, rank
    from zeikan.images.queue import candidates
    from zeikan.images.store import open_store
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer

    source = open_store(_store_url(store))
    scorer = OnnxImageScorer(ImageScorerSettings.from_env())
    try:
        cands, boxes = candidates(source, scorer)
    finally:
        scorer.close()
    tasks = rank(cands, limit=limit)
    _dump(export_coco(tasks, boxes), out)


@annotate_app.command("import")
def annotate_import(
    answers: Path = typer.Argument(..., help="COCO JSON with the officers' boxes."),
    annotator: str = typer.Option(..., "--annotator", help="Who annotated."),
    store: str = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Store officer labels from a COCO answer file beside their images."""
    from zeikan.images.annotation import import_coco
    from zeikan.images.store import open_store

    try:
        doc = json.loads(answers.read_text())
        labels = import_coco(doc, annotator, int(time.time() * 1000))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImageError(f"cannot read COCO answers {str(answers)!r}: {exc}") from exc
    target = open_store(_store_url(store))
    for label in labels:
        target.put_label(label)
    typer.echo(f"stored {len(labels)} labels", err=True)


@annotate_app.command("from-inspections")
def annotate_from_inspections(
    history: Path = typer.Option(..., "--history", help="Directory with declarations.jsonl, scans.jsonl, inspection-results.jsonl."),
    store: str = typer.Option(None, "--store", help="Image store (default: HISTORY/images)."),
) -> None:
    """Turn inspection outcomes into image labels (seizure with concealment -> black, clean physical exam -> white)."""
    from zeikan.images.queue import labels_from_history
    from zeikan.images.store import open_store

    target = open_store(store or str(history / "images"))
    labels = labels_from_history(history)
    for label in labels:
        target.put_label(label)
    typer.echo(f"stored {len(labels)} labels", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``images`` command group to the root ``zeikan`` app."""
    app.add_typer(images_app, name="images")


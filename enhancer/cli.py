"""Every command of Enhancer; ``enhancer`` with no arguments opens the app.

Method options are generated from the chosen method's options dataclass, so ``enhancer upscale --method zssr
--help`` lists ZSSR's knobs with their limits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from enhancer import __version__
from enhancer.imaging.image import ImageError
from enhancer.methods.registry import Method, OptionInfo, all_methods, get_method
from enhancer.runtime.devices import DEVICE_CHOICES, DeviceError
from enhancer.runtime.jobs import JobCancelled, ProgressUpdate, progress_text

OUTPUT_FORMATS = ("png", "jpeg", "webp", "tiff", "bmp")
FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}


def _option_type_name(info: OptionInfo) -> str:
    return getattr(info.type, "__name__", str(info.type).replace("typing.", ""))


def _describe_option(info: OptionInfo) -> str:
    limits = []
    if info.choices:
        limits.append("one of " + ", ".join(map(str, info.choices)))
    if info.minimum is not None or info.maximum is not None:
        limits.append(
            f"{info.minimum if info.minimum is not None else ''}..{info.maximum if info.maximum is not None else ''}"
        )
    extra = f" [{'; '.join(limits)}]" if limits else ""
    return f"{info.help} (default: {info.default}){extra}"


def _add_method_options(parser: argparse.ArgumentParser, method: Method) -> None:
    group = parser.add_argument_group(f"options of {method.id}")
    for info in method.options():
        if info.type is bool:
            group.add_argument(
                info.flag,
                dest=f"opt_{info.name}",
                nargs="?",
                const="true",
                default=None,
                metavar="true|false",
                help=_describe_option(info),
            )
        else:
            group.add_argument(
                info.flag,
                dest=f"opt_{info.name}",
                default=None,
                metavar=_option_type_name(info).upper(),
                help=_describe_option(info),
            )


def _method_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}


class _CliProgress:
    """A tqdm bar per file, fed by the job's progress reports."""

    def __init__(self, label: str, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=1000,
            desc=label,
            unit="‰",
            leave=True,
            disable=quiet,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
        )

    def __call__(self, update: ProgressUpdate) -> None:
        self.bar.n = int(update.fraction * 1000)
        self.bar.set_postfix_str(progress_text(update, " "), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def cmd_methods(args: argparse.Namespace) -> int:
    for method in all_methods():
        scales = ", ".join(f"x{s}" for s in method.scales)
        print(
            f"{method.id}: {method.name}\n  {method.purpose}\n  scales: {scales}; devices: {', '.join(method.devices)}"
            f"; actions: {', '.join(method.actions)}"
        )
        for info in method.options():
            print(f"  {info.flag} {_option_type_name(info).upper()}: {_describe_option(info)}")
        print()
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``enhancer models add|list|remove|info``: the user's own model files."""
    from enhancer.methods.user_model import register_user_models
    from enhancer.runtime.model_library import ModelLibrary

    library = ModelLibrary()
    if args.models_command == "add":
        entry = library.add(
            Path(args.file), args.name
        )  # a bad file: one line (ModelFileError is a ValueError)
        register_user_models()
        licence = f", licence {entry.licence}" if entry.licence else ""
        print(
            f"added {entry.name!r}: {entry.architecture} ×{entry.scale} ({entry.purpose}{licence}), "
            f"{entry.size_bytes / 1e6:.1f} MB, as method {entry.method_id} (in {library.folder})"
        )
        return 0
    if args.models_command == "remove":
        entry = library.remove(args.name)
        register_user_models()
        print(f"removed {entry.name!r} ({library.model_path(entry).name})")
        return 0
    if args.models_command == "info":
        for key, value in library.info(args.name).items():
            print(f"{key}: {value}")
        return 0
    entries = library.entries()
    if not entries:
        print(f"no models yet in {library.folder} (add one: enhancer models add FILE)")
    for entry in entries:
        print(
            f"{entry.method_id}: {entry.architecture} ×{entry.scale} {entry.purpose}, {entry.size_bytes / 1e6:.1f} MB"
        )
    return 0


def _output_path(out_dir: Path, source: Path, fmt: str | None) -> Path:
    suffix = FORMAT_SUFFIX[fmt] if fmt else ".png"
    return out_dir / f"{source.stem}{suffix}"


def _numbered(target: Path, count: int) -> list[Path]:
    """One output, or ``stem_1 … stem_N`` for a method that draws N samples."""
    if count <= 1:
        return [target]
    return [target.with_name(f"{target.stem}_{k}{target.suffix}") for k in range(1, count + 1)]


def plan_outputs(files: list[Path], out_dir: Path, fmt: str | None) -> tuple[dict[Path, Path], list[str]]:
    """The output of each input, no two alike: a later input whose name would collide gets its source
    extension in the name (``a.png``, ``a-jpg.png``), then a number; plus one line per renamed output."""
    planned: dict[Path, Path] = {}
    taken: set[str] = set()
    notes = []
    for path in files:
        target = _output_path(out_dir, path, fmt)
        first = target
        if target.name.lower() in taken:
            extension = path.suffix.lstrip(".").lower() or "file"
            target = target.with_name(f"{first.stem}-{extension}{first.suffix}")
            number = 1
            while target.name.lower() in taken:
                target = target.with_name(f"{first.stem}-{number}{first.suffix}")
                number += 1
            notes.append(f"{path} would also write {first.name}: it writes {target.name} instead")
        taken.add(target.name.lower())
        planned[path] = target
    return planned, notes


def _estimate_before(job, path: Path, rates, quiet: bool) -> tuple[str, float, int] | None:
    """Say how long the job should take (from the header's size and this machine's rates); None if unknown."""
    from PIL import Image

    from enhancer.runtime.estimates import job_key, output_megapixels

    try:
        with Image.open(path) as im:
            width, height = im.size
        key, samples = job_key(job.method_id, dict(job.options), job.scale, job.action, job.device)
    except (OSError, ValueError, DeviceError):
        return None
    output_mp = output_megapixels(width, height, job.scale, job.action)
    if not quiet:
        print(f"{path.name}: {rates.estimate(key, output_mp, samples).text()}", file=sys.stderr)
    return key, output_mp, samples


def run_files(
    paths: list[Path],
    out_dir: Path,
    make_job,
    *,
    fmt: str | None,
    quality: int,
    overwrite: bool,
    quiet: bool,
    after_result=None,
    replace_input: bool = False,
) -> int:
    """Run one job per file; a bad file is reported and the rest go on. Returns the number that failed.

    Before any work: broken links are named, outputs are planned so that none collides, an output that
    would be an input file itself is refused unless ``replace_input``, and unfinished temporary files that
    an earlier killed run left in the output folder are removed.
    """
    import time

    from enhancer.imaging.io import (
        find_images,
        lossy_conversions,
        remove_stale_temporaries,
        same_file,
        save_image,
    )
    from enhancer.runtime.estimates import RateBook
    from enhancer.runtime.runner import run_job, validate_job

    started = time.time()
    rates = RateBook()
    failures = 0
    notes_said: set[str] = set()  # each device note once per run, not once per file
    skipped: list[str] = []
    files = find_images(paths, skipped)
    for line in skipped:
        _print_error(line)
    failures += len(skipped)
    if not files:
        _print_error("no input images found")
        return failures or 1
    planned, renamed = plan_outputs(files, out_dir, fmt)
    for line in renamed:
        print(f"note: {line}", file=sys.stderr)
    removed = remove_stale_temporaries(out_dir, older_than=started)
    if removed and not quiet:
        print(
            f"note: removed {len(removed)} unfinished temporary file(s) of an earlier run from {out_dir}",
            file=sys.stderr,
        )
    for path in files:
        job = make_job(path)
        timing = _estimate_before(job, path, rates, quiet)
        progress = _CliProgress(path.name, quiet)
        try:
            _, options = validate_job(job)
            base = planned[path]
            count = getattr(options, "samples", 1)
            targets = _numbered(base, count)
            for target in targets:
                replaced = next((f for f in files if same_file(target, f)), None)
                if replaced is not None and not replace_input:
                    raise ImageError(
                        target,
                        f"is the input {'file itself' if replaced == path else f'file {replaced}'}"
                        " (the output folder is its folder): refusing to replace your original; choose "
                        "another --out-dir, or add --replace-input to replace it on purpose",
                    )
                if target.exists() and not overwrite and replaced is None:
                    raise ImageError(target, "output exists (use --overwrite to replace it)")
            result = run_job(job, progress)
            progress.close()
            if timing is not None:
                key, output_mp, samples = timing
                rates.record(key, output_mp, float(result.info["seconds"]), samples)
            images = result.samples if len(targets) > 1 else [result.image]
            protect = () if replace_input else files
            lost = lossy_conversions(result.image, fmt, targets[0])
            if "notice" in result.info or lost:
                said = "; ".join([*([result.info["notice"]] if "notice" in result.info else []), *lost])
                print(f"notice: {path}: {said}", file=sys.stderr)
            written = [
                save_image(
                    image,
                    target,
                    format=fmt,
                    quality=quality,
                    overwrite=overwrite or replace_input,
                    protect=protect,
                )
                for image, target in zip(images, targets, strict=True)
            ]
            if after_result is not None:
                after_result(path, result)
            if "warning" in result.info:
                print(f"warning: {path}: {result.info['warning']}", file=sys.stderr)
            note = result.info.get("device_note")
            if note and note not in notes_said and not quiet:
                notes_said.add(note)
                print(f"note: {note}", file=sys.stderr)
            said_above = ("warning", "device_note", "provider", "notice")
            shown = {k: v for k, v in result.info.items() if k not in said_above}
            info = ", ".join(f"{k}={v}" for k, v in shown.items())
            if not quiet:
                names = str(written[0]) if len(written) == 1 else f"{written[0]} … {written[-1].name}"
                print(f"wrote {names} ({info})", file=sys.stderr)
        except KeyboardInterrupt:
            progress.close()
            _print_error("interrupted")
            return failures + 1
        except (ImageError, JobCancelled, DeviceError, ValueError, OSError) as error:
            progress.close()
            failures += 1
            _print_error(f"{path}: {error}" if not isinstance(error, ImageError) else str(error))
    return failures


def cmd_upscale(args: argparse.Namespace) -> int:
    from enhancer.runtime.runner import Job

    options = _method_options(args)

    def make_job(path: Path) -> Job:
        return Job(
            path,
            args.method,
            args.scale,
            options,
            args.device,
            tile_size=args.tile_size,
            seed=args.seed,
            max_pixels=args.max_pixels,
        )

    inputs = [Path(p) for p in args.inputs]
    failures = run_files(
        inputs,
        Path(args.out_dir),
        make_job,
        fmt=args.format,
        quality=args.quality,
        overwrite=args.overwrite,
        replace_input=args.replace_input,
        quiet=args.quiet,
        after_result=_kernel_saver(Path(args.save_kernel), inputs, args) if args.save_kernel else None,
    )
    return 1 if failures else 0


def _kernel_saver(target: Path, inputs: list[Path], args: argparse.Namespace):
    """``after_result`` for ``--save-kernel``: the result's estimated kernel as .npy and an enlarged .png.

    One input file writes ``target`` itself; several (or a folder) write ``<target stem>_<input stem>.npy``.
    """
    from enhancer.imaging.kernels import save_kernel

    single = len(inputs) == 1 and inputs[0].is_file()

    def save(source: Path, result) -> None:
        kernel = result.extras.get("kernel")
        if kernel is None:
            raise ValueError(f"{args.method} does not estimate a kernel (--save-kernel needs one that does)")
        path = target if single else target.with_name(f"{target.stem}_{source.stem}.npy")
        written = save_kernel(kernel, path, overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {written[0]} and {written[1]}", file=sys.stderr)

    return save


def cmd_kernel(args: argparse.Namespace) -> int:
    """Estimate an image's downscaling kernel with KernelGAN and write it (.npy + .png); no enlarging."""
    from enhancer.imaging.kernels import save_kernel
    from enhancer.runtime.runner import Job, run_job, validate_job

    job = Job(
        Path(args.input),
        "kernelgan",
        args.scale,
        _method_options(args),
        args.device,
        action="kernel",
        seed=args.seed,
        max_pixels=args.max_pixels,
    )
    target = Path(args.out).with_suffix(".npy")
    validate_job(job)
    if target.exists() and not args.overwrite:
        raise ImageError(target, "output exists (use --overwrite to replace it)")
    progress = _CliProgress(Path(args.input).name, args.quiet)
    try:
        result = run_job(job, progress)
    finally:
        progress.close()
    written = save_kernel(result.extras["kernel"], target, overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {written[0]} and {written[1]}", file=sys.stderr)
    return 0


def _run_irn_files(args: argparse.Namespace, make_job) -> int:
    """Run IRN's shrink or restore over the inputs into PNGs (lossless; a shrunk copy carries its marker in one)."""
    failures = run_files(
        [Path(p) for p in args.inputs],
        Path(args.out_dir),
        make_job,
        fmt="png",
        quality=95,
        overwrite=args.overwrite,
        replace_input=args.replace_input,
        quiet=args.quiet,
    )
    return 1 if failures else 0


def _engine_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("auto", "onnx", "bf16", "int8"),
        default="auto",
        help="auto (default): for x4 on a CPU that computes bfloat16 natively int8 (int8 and bfloat16, about "
        "2.7x faster than onnx) or, for a model not calibrated for it, bf16 (about 2x); onnx otherwise",
    )


def _robust_arg(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--robust", choices=("none", "jpeg"), default="none", help=help)


def cmd_shrink(args: argparse.Namespace) -> int:
    from enhancer.runtime.runner import Job

    def make_job(path: Path) -> Job:
        return Job(
            path,
            "irn",
            args.scale,
            {"engine": args.engine, "survive_jpeg": args.robust == "jpeg"},
            args.device,
            action="shrink",
            tile_size=args.tile_size,
            seed=args.seed,
            max_pixels=args.max_pixels,
        )

    return _run_irn_files(args, make_job)


def cmd_restore(args: argparse.Namespace) -> int:
    from enhancer.methods.irn import IRN_SCALES, read_marker_from_file
    from enhancer.runtime.runner import Job

    options = {"z": args.z, "force": args.force, "engine": args.engine, "survive_jpeg": args.robust == "jpeg"}

    def make_job(path: Path) -> Job:
        try:
            marker = read_marker_from_file(path)
        except ValueError:
            marker = None  # a damaged marker is reported by the method when it reads the image
        # Without --scale the marker decides; without either, IRN's restore refuses with its own message.
        scale = args.scale or (marker.scale if marker else IRN_SCALES[0])
        return Job(
            path,
            "irn",
            scale,
            options,
            args.device,
            action="restore",
            tile_size=args.tile_size,
            seed=args.seed,
            max_pixels=args.max_pixels,
        )

    if args.force and not args.scale:
        _print_error("--force needs --scale (an image without IRN's marker does not say its scale)")
        return 2
    return _run_irn_files(args, make_job)


def cmd_bench(args: argparse.Namespace) -> int:
    from enhancer.bench.benchmark import (
        BenchConfig,
        ImageFailed,
        format_row,
        format_summary,
        iter_benchmark,
        read_json,
        write_json,
    )

    if args.skip < 0 or (args.limit is not None and args.limit < 1):
        _print_error("--skip must be 0 or more and --limit 1 or more")
        return 2
    if args.center_crop is not None and args.center_crop < 2 * args.scale:
        _print_error(f"--center-crop must be at least twice the scale ({2 * args.scale})")
        return 2
    if args.degradation == "aniso":
        return _bench_aniso(args)
    if args.method == "pixelrsr":
        return _bench_faces(args)
    if args.kernels_only:
        _print_error("--kernels-only goes with --degradation aniso")
        return 2

    config = BenchConfig(
        method_id=args.method,
        scale=args.scale,
        dataset=Path(args.dataset),
        limit=args.limit,
        skip=args.skip,
        options=_method_options(args),
        device=args.device,
        seed=args.seed,
        save_dir=Path(args.save_dir) if args.save_dir else None,
        center_crop=args.center_crop,
    )
    previous = None
    if args.resume:
        if not args.json:
            _print_error("--resume continues the report named by --json; give --json")
            return 2
        if Path(args.json).exists():
            try:
                previous = read_json(Path(args.json))
            except ValueError as error:
                _print_error(str(error))
                return 2
            print(f"resuming: {len(previous.rows)} image(s) already measured, {len(previous.failed)} failed")
    elif args.json and Path(args.json).exists():
        _print_error(f"{args.json} exists: add --resume to continue that run, or name another --json")
        return 2
    report = None
    try:
        for row, report in iter_benchmark(config, resume_from=previous):
            if isinstance(row, ImageFailed):
                _print_error(f"{row.image}: not measured ({row.reason})")
            else:
                print(format_row(row), flush=True)
            if args.json:  # after every image: a killed or interrupted run keeps what it measured
                write_json(report, Path(args.json))
    except KeyboardInterrupt:
        _print_error(
            "interrupted" + (f"; {args.json} keeps what was measured (--resume goes on)" if args.json else "")
        )
        return 1
    except (ValueError, KeyError, FileNotFoundError) as error:
        _print_error(str(error.args[0]) if isinstance(error, KeyError) else str(error))
        return 2
    if report is None or not report.rows:
        _print_error("nothing was measured")
        return 1
    print(format_summary(report))
    return 1 if report.failed else 0


def _bench_faces(args: argparse.Namespace) -> int:
    """Pixel recursive SR on a held-out split of the face set: NLL, samples vs bicubic and L2, diversity, time."""
    import json

    from enhancer.bench.faces import FaceBenchConfig, comparison_figure, run_face_benchmark
    from enhancer.methods.pixelrsr import find_model, load_network, sampler
    from enhancer.runtime.devices import torch_device

    if args.scale != 4:
        _print_error("pixelrsr is measured at --scale 4 (8×8 → 32×32)")
        return 2
    try:
        device = torch_device(args.device)
        network = load_network(find_model().path, device)
        try:
            l2_network = load_network(find_model("pixelrsr-l2").path, device)
        except ValueError as missing:
            print(f"note: no L2 baseline ({missing})", file=sys.stderr)
            l2_network = None
        config = FaceBenchConfig(Path(args.dataset), split=args.split, limit=args.limit, seed=args.seed)
        face_sampler = sampler()
        report = run_face_benchmark(config, network, face_sampler, l2_network)
        if args.figure:
            print(
                f"wrote {comparison_figure(face_sampler, l2_network, Path(args.dataset), Path(args.figure), split=args.split)}"
            )
    except (ValueError, FileNotFoundError, DeviceError) as error:
        _print_error(str(error))
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(report.figures, indent=2) + "\n")
    return 0


def cmd_bench_merge(args: argparse.Namespace) -> int:
    from enhancer.bench.benchmark import format_row, format_summary, merge_reports, read_json, write_json
    from enhancer.imaging.io import find_images

    try:
        report = merge_reports([read_json(Path(path)) for path in args.reports])
    except ValueError as error:
        _print_error(str(error))
        return 1
    for row in report.rows:
        print(format_row(row))
    print(format_summary(report))
    dataset = report.config.dataset
    if dataset.is_dir():
        total = len(find_images([dataset]))
        missing = total - len(report.rows)
        print(
            f"covers {len(report.rows)} of the {total} images in {dataset}"
            + (f"; {missing} missing" if missing else "")
        )
    if args.json:
        write_json(report, Path(args.json))
    return 0


def _bench_aniso(args: argparse.Namespace) -> int:
    """The blind benchmark (DIV2KRK-style random anisotropic kernels): see ``enhancer.bench.blind``."""
    from enhancer.bench.blind import (
        BLIND_METHOD,
        BlindConfig,
        format_row,
        format_summary,
        iter_blind_benchmark,
        write_json,
    )

    if args.method != BLIND_METHOD:
        _print_error(f"--degradation aniso measures blind SR: use --method {BLIND_METHOD}")
        return 2
    config = BlindConfig(
        scale=args.scale,
        dataset=Path(args.dataset),
        limit=args.limit,
        skip=args.skip,
        options=_method_options(args),
        device=args.device,
        seed=args.seed,
        save_dir=Path(args.save_dir) if args.save_dir else None,
        center_crop=args.center_crop,
        kernels_only=args.kernels_only,
    )
    progress = _CliProgress("aniso benchmark", args.quiet)
    report = None
    try:
        for row, report in iter_blind_benchmark(config, progress):  # noqa: B007  (the last report is the whole one)
            progress.bar.clear()
            print(format_row(row), flush=True)
    finally:
        progress.close()
    if report is None:
        _print_error("nothing was measured")
        return 1
    print(format_summary(report))
    if args.json:
        write_json(report, Path(args.json))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from enhancer.gui.app import main as gui_main

    files = list(args.files)
    if args.sample:
        from enhancer.samples import sample_image_path

        files.insert(0, str(sample_image_path()))
    return gui_main(files)


def cmd_sample(args: argparse.Namespace) -> int:
    from enhancer.samples import sample_image_path

    print(sample_image_path())
    return 0


def _replace_input_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replace-input",
        action="store_true",
        help="let a result replace its own input file (when --out-dir is the inputs' folder); your "
        "original is lost",
    )


def _common_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="where torch/onnxruntime run: auto uses a CUDA GPU when there is one",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable results")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser(method: Method | None = None, command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enhancer", description="Enlarge and restore photos.")
    parser.add_argument("--version", action="version", version=f"enhancer {__version__}")
    parser.add_argument(
        "--model-dir", default=None, help="the folder of your own models (default: your user data folder)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation: every method on a tiny image, the models, the window (exit 1 on failure)",
    )
    sub = parser.add_subparsers(dest="command")

    sub.add_parser("methods", help="list methods and their options").set_defaults(func=cmd_methods)

    gui = sub.add_parser("gui", help="open the app (the default with no command)")
    gui.add_argument("files", nargs="*", help="images to open")
    gui.add_argument("--sample", action="store_true", help="also open the bundled sample photo")
    gui.set_defaults(func=cmd_gui)

    sub.add_parser("sample", help="print the path of the bundled sample photo").set_defaults(func=cmd_sample)

    up = sub.add_parser("upscale", help="enlarge images with a method")
    up.add_argument("inputs", nargs="+", help="image files or folders")
    up.add_argument("--method", required=True, help="method id (see `enhancer methods`)")
    up.add_argument("--scale", type=int, required=True)
    up.add_argument("--out-dir", required=True, help="folder for the results (DIR/<input stem>.<format>)")
    up.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="output format (default png)")
    up.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (1-100)")
    up.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input file)")
    _replace_input_arg(up)
    up.add_argument("--tile-size", type=int, default=512, help="tile side in input pixels for large images")
    up.add_argument("--max-pixels", type=int, default=None, help="refuse inputs larger than this many pixels")
    up.add_argument(
        "--save-kernel",
        default=None,
        metavar="FILE",
        help="also write the estimated blur kernel (methods that estimate one, e.g. kernelgan) as "
        "FILE.npy and an enlarged FILE.png",
    )
    _common_run_args(up)
    up.set_defaults(func=cmd_upscale)

    kernel = sub.add_parser("kernel", help="estimate an image's blur kernel (KernelGAN) without enlarging it")
    kernel.add_argument("input", help="an image file")
    kernel.add_argument("--scale", type=int, choices=(2, 4), default=2, help="the kernel's scale (default 2)")
    kernel.add_argument(
        "--out", required=True, help="FILE.npy (float64, sums to 1); an enlarged FILE.png beside it"
    )
    kernel.add_argument("--overwrite", action="store_true", help="replace an existing kernel file")
    kernel.add_argument(
        "--max-pixels", type=int, default=None, help="refuse inputs larger than this many pixels"
    )
    _common_run_args(kernel)
    kernel.set_defaults(func=cmd_kernel)

    shrink = sub.add_parser("shrink", help="shrink images with IRN into small PNGs that it can restore later")
    shrink.add_argument("inputs", nargs="+", help="image files or folders")
    shrink.add_argument("--scale", type=int, choices=(2, 4), required=True)
    shrink.add_argument("--out-dir", required=True, help="folder for the small PNGs (DIR/<input stem>.png)")
    shrink.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (never an input file)"
    )
    _replace_input_arg(shrink)
    shrink.add_argument("--tile-size", type=int, default=512, help="largest tile side in LR pixels")
    _engine_arg(shrink)
    _robust_arg(
        shrink,
        "jpeg: a small file that survives being re-saved as JPEG (by a messenger or website); worse than the "
        "standard model if it stays lossless, by about 1.3 dB at x2 and 0.8 dB at x4 (default: none)",
    )
    shrink.add_argument(
        "--max-pixels", type=int, default=None, help="refuse inputs larger than this many pixels"
    )
    _common_run_args(shrink)
    shrink.set_defaults(func=cmd_shrink)

    restore = sub.add_parser("restore", help="restore images that `enhancer shrink` made to their full size")
    restore.add_argument(
        "inputs", nargs="+", help="files or folders made by `enhancer shrink` (also re-saved as JPEG or WebP)"
    )
    restore.add_argument("--out-dir", required=True, help="folder for the results (DIR/<input stem>.png)")
    restore.add_argument(
        "--scale", type=int, choices=(2, 4), default=None, help="default: from the file's marker"
    )
    restore.add_argument(
        "--z",
        choices=("zero", "sample"),
        default="zero",
        help="the detail dropped when shrinking: zero (default) or a random sample (see --seed)",
    )
    restore.add_argument(
        "--force", action="store_true", help="restore images without IRN's marker (needs --scale)"
    )
    restore.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (never an input file)"
    )
    _replace_input_arg(restore)
    restore.add_argument("--tile-size", type=int, default=512, help="largest tile side in LR pixels")
    _engine_arg(restore)
    _robust_arg(
        restore,
        "with --force: the model for a file whose marker was stripped (jpeg if it was shrunk with "
        "--robust jpeg); a marked file names its own model",
    )
    restore.add_argument(
        "--max-pixels", type=int, default=None, help="refuse inputs larger than this many pixels"
    )
    _common_run_args(restore)
    restore.set_defaults(func=cmd_restore)

    models = sub.add_parser("models", help="your own model files (ESRGAN, SwinIR, HAT, ONNX …) as methods")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    add = models_sub.add_parser("add", help="detect a model file and copy it into your model folder")
    add.add_argument("file", help=".pth, .safetensors, .ckpt or .onnx")
    add.add_argument("--name", default=None, help="its name (default: the file's name)")
    models_sub.add_parser("list", help="the models added, with their method ids")
    for verb, text in (
        ("remove", "remove a model (its file too)"),
        ("info", "everything known about a model"),
    ):
        models_sub.add_parser(verb, help=text).add_argument("name")
    models.set_defaults(func=cmd_models)

    merge = sub.add_parser(
        "bench-merge", help="add up bench reports of parts of one dataset (--skip/--limit runs) into one"
    )
    merge.add_argument("reports", nargs="+", help="JSON reports that `enhancer bench --json` wrote")
    merge.add_argument("--json", default=None, help="write the merged report as JSON here")
    merge.set_defaults(func=cmd_bench_merge)

    bench = sub.add_parser("bench", help="measure a method against the papers' protocol")
    bench.add_argument("--method", required=True)
    bench.add_argument("--scale", type=int, required=True)
    bench.add_argument("--dataset", required=True, help="folder of HR images")
    bench.add_argument("--limit", type=int, default=None, help="measure only the first N images")
    bench.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first N images (with --degradation aniso "
        "each image keeps its kernel, so runs over parts of a folder add up to the whole)",
    )
    bench.add_argument(
        "--center-crop",
        type=int,
        default=None,
        metavar="N",
        help="measure only the central N x N of each HR image (quick checks; "
        "not the papers' protocol, so not for figures beside theirs)",
    )
    bench.add_argument(
        "--json", default=None, help="write the report as JSON here (rewritten after every image)"
    )
    bench.add_argument(
        "--resume", action="store_true", help="continue the run whose report --json names (skips its images)"
    )
    bench.add_argument("--save-dir", default=None, help="save each output image here")
    bench.add_argument(
        "--degradation",
        choices=("bicubic", "aniso"),
        default="bicubic",
        help="bicubic: the papers' protocol; aniso: a random anisotropic blur per image "
        "(DIV2KRK-style, blind SR; --method kernelgan)",
    )
    bench.add_argument(
        "--kernels-only",
        action="store_true",
        help="with --degradation aniso: only estimate and score the kernels (no image is enlarged)",
    )
    bench.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="pixelrsr: which held-out split of the face folder (people never trained on)",
    )
    bench.add_argument("--figure", default=None, help="pixelrsr: also write a comparison grid PNG here")
    _common_run_args(bench)
    bench.set_defaults(func=cmd_bench, seed=0)

    if method is not None and command in ("upscale", "bench"):
        _add_method_options(sub.choices[command], method)
    if command == "kernel":
        _add_method_options(kernel, get_method("kernelgan"))
    return parser


def _find_method(argv: list[str]) -> Method | None:
    for index, arg in enumerate(argv):
        value = None
        if arg == "--method" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--method="):
            value = arg.split("=", 1)[1]
        if value is not None:
            return get_method(value)
    return None


def _take_model_dir(argv: list[str]) -> str | None:
    """Remove ``--model-dir DIR`` from ``argv`` (it is read before the methods are), returning DIR."""
    for index, arg in enumerate(argv):
        if arg == "--model-dir" and index + 1 < len(argv):
            value = argv[index + 1]
            del argv[index : index + 2]
            return value
        if arg.startswith("--model-dir="):
            del argv[index]
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["gui"]
    model_dir = _take_model_dir(argv)
    if model_dir is not None:
        from enhancer.methods.user_model import register_user_models
        from enhancer.runtime.model_library import USER_MODELS_ENV

        os.environ[USER_MODELS_ENV] = model_dir
        register_user_models()
        if not argv:
            argv = ["gui"]
    if argv[0] in ("--self-test", "self-test"):
        from enhancer.selftest import run_self_test

        return run_self_test(gui="--no-gui" not in argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        method = _find_method(argv)
    except KeyError as error:
        _print_error(str(error.args[0]))
        return 2
    parser = build_parser(method, command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, KeyError, DeviceError, ImageError, FileNotFoundError) as error:
        _print_error(str(error.args[0]) if isinstance(error, KeyError) else str(error))
        return 2
    except JobCancelled:
        _print_error("cancelled")
        return 130
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

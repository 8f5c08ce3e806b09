"""``juanji mvs``: multi-view stereo with MVSNet, against the classic plane sweep.

::

    juanji mvs train --out runs/mvs --minutes 28        # train on synthetic scenes
    juanji mvs train --out runs/mvs --resume            # continue an interrupted run
    juanji mvs predict SCENE_DIR --out OUT              # depth maps of a folder (MVSNet layout)
    juanji mvs eval runs/mvs/model.juanji --scenes 20   # held-out scenes, vs the plane sweep
    juanji mvs demo --out demo/                         # one scene end to end, an HTML report
    juanji mvs surfacenet --steps 300                   # SurfaceNet and its voxel F-score
    juanji mvs memory                                   # peak memory: MVSNet vs SurfaceNet
"""

import json

__all__ = ["add_parser"]


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise ValueError(f"expected a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def cmd_train(args):
    from juanji.cli import UsageError
    from juanji.mvs.training import TrainingOptions, train

    if args.resume:
        given = [f"--{k}" for k in ("steps", "minutes", "scenes", "views") if getattr(args, k)]
        if given:
            raise UsageError(f"mvs train: --resume reuses the run's options; drop {given}")
        train(args.out, resume=True, log=_log)
        return 0
    if not args.steps and not args.minutes:
        raise UsageError("mvs train: give the length of the run: --steps N or --minutes M")
    given = {"scenes": args.scenes, "views": args.views}
    options = TrainingOptions(
        **{k: v for k, v in given.items() if v is not None},
        num_depths=args.num_depths,
        steps=args.steps,
        minutes=args.minutes,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    train(args.out, options, log=_log)
    return 0


def _log(line):
    print(line, flush=True)


def _model(path):
    from juanji.mvs.predict import load_mvsnet

    return load_mvsnet(path)


def cmd_predict(args):
    from juanji.mvs.predict import predict_folder

    model, extra = _model(args.model)
    predict_folder(
        model,
        args.scene_dir,
        args.out,
        views=args.views,
        num_depths=args.num_depths,
        default_depths=extra.get("training", {}).get("num_depths"),
        refs=None if args.ref is None else [args.ref],
        log=_log,
    )
    return 0


def cmd_eval(args):
    from juanji.mvs.evaluation import evaluate, held_out_scenes

    model, _ = _model(args.model)
    scenes = held_out_scenes(args.scenes, num_views=args.views, num_depths=args.num_depths)
    results = evaluate(model, scenes, cost=args.cost)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.scenes} held-out scenes, {args.views} views, D = {args.num_depths}")
    print(f"{'':24}{'pixels':>8}{'MAE':>8}{'<=1':>8}{'<=3':>8}   (depth intervals)")
    for region in ("all", "weak"):
        for method, label in (("mvsnet", "MVSNet"), ("plane_sweep", f"sweep ({args.cost})")):
            r = results[method][region]
            print(
                f"{label + ', ' + region:<24}{r['n']:>8}{r['mae']:>8.3f}"
                f"{r['within_1']:>8.3f}{r['within_3']:>8.3f}"
            )
        ratio = results["mvsnet"][region]["mae"] / results["plane_sweep"][region]["mae"]
        print(f"{'':24}MVSNet MAE / plane-sweep MAE ({region}): {ratio:.3f}")
    return 0


def cmd_demo(args):
    from juanji.mvs.demo import run_demo

    model, _ = _model(args.model)
    path = run_demo(model, args.out, seed=args.seed, views=args.views, cost=args.cost)
    print(f"wrote {path}")
    return 0


def cmd_surfacenet(args):
    from juanji.mvs.evaluation import held_out_scenes
    from juanji.mvs.surfacenet import evaluate_surfacenet, train_surfacenet

    model, seconds = train_surfacenet(
        steps=args.steps, size=args.size, scenes=args.scenes, log=_log
    )
    scores = evaluate_surfacenet(model, held_out_scenes(args.eval_scenes), size=args.size)
    print(
        f"SurfaceNet, {args.steps} steps in {seconds / 60:.1f} min; on {args.eval_scenes} "
        f"held-out scenes ({args.size}^3 voxels, 1-voxel tolerance): precision "
        f"{scores['precision']:.3f}, recall {scores['recall']:.3f}, F-score {scores['f_score']:.3f}"
    )
    if args.out:
        from juanji import saving

        saving.save_model(model, args.out, extra={"size": args.size, **scores})
    return 0


def cmd_memory(args):
    from juanji.mvs.memory import memory_table

    for line in memory_table(args.sizes):
        print(line)
    return 0


def add_parser(sub):
    """Add ``mvs`` and its subcommands to the ``juanji`` parser's subparsers ``sub``."""
    p = sub.add_parser("mvs", help="multi-view stereo: MVSNet depth maps, plane sweep, SurfaceNet")
    commands = p.add_subparsers(dest="mvs_command", required=True, metavar="SUBCOMMAND")

    t = commands.add_parser("train", help="train MVSNet on synthetic scenes")
    t.add_argument("--out", required=True, help="the run folder")
    t.add_argument("--scenes", type=_positive(int), help="training scenes (default 300)")
    t.add_argument("--views", type=_positive(int), help="views per scene (default 3)")
    t.add_argument("--num-depths", type=_positive(int), default=32, help="planes D (32)")
    t.add_argument("--steps", type=_positive(int), help="optimizer steps")
    t.add_argument("--minutes", type=_positive(float), help="train for this long")
    t.add_argument("--batch-size", type=_positive(int), default=1, help="scenes a step (1)")
    t.add_argument("--learning-rate", type=_positive(float), default=0.002, help="(0.002)")
    t.add_argument("--seed", type=int, default=0, help="initialisation and data order (0)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.set_defaults(run=cmd_train)

    r = commands.add_parser("predict", help="depth maps of a scene folder in MVSNet's layout")
    r.add_argument("scene_dir", help="images/, cams/ and pair.txt, as MVSNet reads them")
    r.add_argument("--out", required=True, help="the output folder")
    r.add_argument("--model", help="an MVSNet model file (default: the shipped one)")
    r.add_argument("--views", type=_positive(int), default=3, help="views per depth map (3)")
    r.add_argument("--num-depths", type=_positive(int), help="D (default: the cam files')")
    r.add_argument("--ref", type=int, help="only this reference view")
    r.set_defaults(run=cmd_predict)

    e = commands.add_parser("eval", help="MVSNet against the plane sweep on held-out scenes")
    e.add_argument("model", nargs="?", help="an MVSNet model file (default: the shipped one)")
    e.add_argument("--scenes", type=_positive(int), default=20, help="held-out scenes (20)")
    e.add_argument("--views", type=_positive(int), default=3, help="views per scene (3)")
    e.add_argument("--num-depths", type=_positive(int), default=32, help="D (32)")
    e.add_argument("--cost", choices=("variance", "ncc"), default="variance", help="sweep cost")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(run=cmd_eval)

    d = commands.add_parser("demo", help="one synthetic scene end to end, as an HTML report")
    d.add_argument("--out", default="mvs-demo", help="the report folder (mvs-demo)")
    d.add_argument("--model", help="an MVSNet model file (default: the shipped one)")
    d.add_argument("--seed", type=int, default=1_000_003, help="the scene (a held-out one)")
    d.add_argument("--views", type=_positive(int), default=3, help="views (3)")
    d.add_argument("--cost", choices=("variance", "ncc"), default="variance", help="sweep cost")
    d.set_defaults(run=cmd_demo)

    s = commands.add_parser("surfacenet", help="train SurfaceNet; its voxel F-score")
    s.add_argument("--steps", type=_positive(int), default=300, help="optimizer steps (300)")
    s.add_argument("--size", type=_positive(int), default=16, help="cube side in voxels (16)")
    s.add_argument("--scenes", type=_positive(int), default=100, help="training scenes (100)")
    s.add_argument("--eval-scenes", type=_positive(int), default=20, help="held-out (20)")
    s.add_argument("--out", help="save the model to this file")
    s.set_defaults(run=cmd_surfacenet)

    m = commands.add_parser("memory", help="peak memory of MVSNet and SurfaceNet by resolution")
    m.add_argument(
        "--sizes",
        type=_positive(int),
        nargs="+",
        default=[16, 32, 48, 64],
        help="resolutions r (16 32 48 64)",
    )
    m.set_defaults(run=cmd_memory)

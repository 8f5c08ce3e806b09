"""``juanji sweep``: a grid or random search over ``juanji train`` options on Ray Tune.

::

    juanji sweep --dataset digits --epochs 2 --grid loss=mse,categorical_crossentropy \\
        --grid activation=sigmoid,relu
    juanji sweep --grid text --epochs 3 --out sweeps/text     # the text's whole grid
    juanji sweep --grid text --random 12 --address ray://head:10001

Needs the optional extra ``juanji[ray]``.
"""

from juanji import cli


def add_parser(sub):
    """Add the ``sweep`` subcommand to ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="search over train options on Ray Tune (needs juanji[ray])",
        description="Run `juanji train` once per combination of the --grid values (or for "
        "--random N draws of them) on Ray Tune, stopping trailing trials early (ASHA); "
        "other train options are shared by every trial.",
    )
    cli.add_train_options(p)
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2|text",
        help="a train option and its values (repeat for more axes); 'text' for the text's "
        "grid of loss, output activation, hidden activation and optimizer",
    )
    p.add_argument("--random", type=int, metavar="N", help="N random trials instead of the grid")
    p.add_argument("--cpus-per-trial", type=int, default=1, help="Ray CPUs (and BLAS threads)")
    p.add_argument("--no-asha", action="store_true", help="run every trial to its last epoch")
    p.add_argument("--address", help="a Ray cluster to run on (default: a local Ray)")
    p.add_argument("--out", default="sweeps/latest", help="the sweep's folder (sweeps/latest)")
    p.set_defaults(run=run)


def run(args):
    """Carry out ``juanji sweep``: print the results table; 0 on success."""
    from juanji.distributed import sweep

    axes = sweep.parse_grid(args.grid, cli.TRAIN_OPTIONS)
    if args.random is not None and args.random < 1:
        raise cli.UsageError(f"--random must be at least 1, got {args.random}")
    if args.cpus_per_trial < 1:
        raise cli.UsageError(f"--cpus-per-trial must be at least 1, got {args.cpus_per_trial}")
    base = {name: getattr(args, name) for name in cli.TRAIN_OPTIONS if name not in axes}
    for axis, choices in axes.items():  # every value checked before any trial starts
        for label, options in choices.items():
            try:
                cli.resolve_train_options(sweep.train_argv(base, options, args.out))
            except cli.UsageError as error:
                raise cli.UsageError(f"--grid {axis}={label}: {error}") from None
    try:
        import ray  # noqa: F401
    except ImportError:
        raise cli.UsageError("sweep needs Ray: pip install 'juanji[ray]'") from None
    rows = sweep.run_sweep(
        axes,
        out=args.out,
        base_options=base,
        random_samples=args.random,
        cpus_per_trial=args.cpus_per_trial,
        asha=not args.no_asha,
        address=args.address,
        seed=args.seed or 0,
    )
    print(sweep.format_table(rows, axes))
    print(f"results: {args.out}/results.csv, {args.out}/sweep.png")
    return 0

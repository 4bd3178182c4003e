"""``python -m sbn``: the ``sbn`` command, for launchers that start modules
(``torchrun --nproc-per-node 4 -m sbn train ...``)."""

from sbn.cli import main

if __name__ == "__main__":
    main()

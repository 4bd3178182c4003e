"""One side of ``bench_spikingjelly.py``: builds one net and times one step per request.

    python bench_pair_worker.py '{"impl": "sbn", ...}'     # ours, in .venv
    python bench_pair_worker.py '{"impl": "spikingjelly", ...}'  # theirs, in the side venv

It prints ``ready`` once the net is built, then reads one command per line from stdin
(``train`` or ``infer``) and answers with the step's seconds; ``quit`` ends it. The
orchestrator keeps one worker per side alive and asks them in turn, so both see the same
machine load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_steps import infer_step, seconds, train_step


def _build(spec: dict):
    """(model, forward) for the requested side."""
    if spec["impl"] == "sbn":
        from sbn.models import LIFParameters, ModelConfig, build_model

        lif = LIFParameters(spec["decay"], spec["v_th"], spec["surrogate_width"])
        config = ModelConfig(
            num_classes=spec["num_classes"],
            width=spec["width"],
            layers=tuple(spec["layers"]),
            time_steps=spec["time_steps"],
            lif=lif,
        )
        model = build_model(config)
        return model, model
    import spikingjelly_resnet

    net = spikingjelly_resnet.build(
        spec["stem"],
        spec["planes"],
        spec["layers"],
        spec["num_classes"],
        spec["decay"],
        spec["v_th"],
        spec["surrogate"],
        spec["surrogate_width"],
    )
    return net, spikingjelly_resnet.forward_fn(net, spec["time_steps"])


def main() -> None:
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model, forward = _build(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(spec["train_batch"], 3, 32, 32, generator=g)
    y = torch.randint(0, spec["num_classes"], (spec["train_batch"],), generator=g)
    xi = torch.rand(spec["infer_batch"], 3, 32, 32, generator=g)
    steps = {"train": train_step(model, forward, optimizer, x, y), "infer": infer_step(model, forward, xi)}
    params = sum(p.numel() for p in model.parameters())
    print(
        json.dumps(
            {"ready": True, "params": params, "threads": torch.get_num_threads(), "torch": torch.__version__}
        ),
        flush=True,
    )
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        print(json.dumps({"seconds": seconds(steps[command], "cpu")}), flush=True)


if __name__ == "__main__":
    main()

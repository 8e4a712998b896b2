"""`run.watch()` on torch modules (W&B's `wandb.watch`, wandb/integration/torch/wandb_torch.py): gradient
histograms through tensor hooks and parameter histograms through a forward hook, every `log_freq` calls, under
W&B's keys (`gradients/<prefix><name>`, `parameters/<prefix><name>`), 64 bins computed with `torch.histc` as W&B
does. `log_graph=True` records the module tree as W&B's torch graph: on the first forward pass every leaf module
(containers — Sequential, ModuleList, ModuleDict — are walked into, names dotted) gives a node with its name,
class (`str(module)`), output shape and parameter shapes, and the graph goes to the run's summary as `graph_<i>`,
a `graph-file` JSON under media/graph/ (W&B's format; W&B's torch graph has no edges either). Imported only when
`watch()` is called: runhive never imports torch otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import reduce
from operator import mul
from typing import Any

import torch

from runhive.sdk.data_types._base import Media, _StoredFile
from runhive.sdk.data_types._histogram import Histogram

NUM_BINS = 64
LOG_CHOICES = ("gradients", "parameters", "all", None)

# W&B numbers watched models across the process (`_global_watch_idx`): the first gets no prefix, the next
# `graph_1`, ... concatenated to the parameter name without a separator, as W&B writes them.
_next_index = 0


class _Every:
    """True on every `n`-th call (W&B's log_track)."""

    def __init__(self, n: int) -> None:
        self.n, self.count = max(1, int(n)), 0

    def __call__(self) -> bool:
        self.count += 1
        if self.count < self.n:
            return False
        self.count = 0
        return True


def tensor_histogram(tensor: Any) -> Histogram | None:
    """W&B's `log_tensor_stats`: 64 `histc` bins between min and max of the finite values (sparse tensors: the
    implicit zeros added to the bin holding 0); one bin when all values are equal; None when none is finite."""
    if isinstance(tensor, (tuple, list)):
        while isinstance(tensor, (tuple, list)) and isinstance(tensor[0], (tuple, list)):
            tensor = [item for sub in tensor for item in sub]
        tensor = torch.cat([t.detach().reshape(-1) for t in tensor])
    tensor = tensor.detach()
    sparse_zeros = 0
    if tensor.is_sparse:
        tensor = tensor.cpu().coalesce()
        values = tensor._values()
        sparse_zeros = tensor.numel() - values.numel()
        tensor = values
    flat = tensor.reshape(-1).cpu()
    if flat.dtype not in (torch.float32, torch.float64):
        flat = flat.float()
    finite = torch.isfinite(flat)
    if flat.numel() == 0 or not bool(finite.any()):
        return None
    if not bool(finite.all()):
        flat = flat[finite]
    tmin, tmax = float(flat.min()), float(flat.max())
    if sparse_zeros:
        tmin, tmax = min(tmin, 0.0), max(tmax, 0.0)
    if tmin > tmax:
        tmin, tmax = tmax, tmin
    if tmin == tmax:
        counts: list[float] = [float(flat.numel() + sparse_zeros)]
        bins: list[float] = [tmin, tmax]
    else:
        counts = flat.histc(bins=NUM_BINS, min=tmin, max=tmax).tolist()
        bins = torch.linspace(tmin, tmax, steps=NUM_BINS + 1).tolist()
        if sparse_zeros:
            for i in range(NUM_BINS):
                if (bins[i] <= 0 < bins[i + 1]) or (i == NUM_BINS - 1 and bins[i + 1] == 0):
                    counts[i] += sparse_zeros
                    break
    return Histogram(np_histogram=(counts, bins))


class Watcher:
    """The hooks one run has put on torch modules; `run.unwatch()` removes them."""

    def __init__(self, log: Callable[[dict[str, Any]], None]) -> None:
        self._log = log  # merges into the run's next row (W&B: run._log(..., commit=False))
        self.handles: dict[str, Any] = {}

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> list[Any]:
        global _next_index
        if log not in LOG_CHOICES:
            raise ValueError("log must be one of 'gradients', 'parameters', 'all', or None")
        if not isinstance(models, (tuple, list)):
            models = (models,)
        for model in models:
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"Expected a pytorch model (torch.nn.Module). Received {type(model)}")
        base = _next_index if idx is None else idx
        prefix = ""
        graphs: list[Any] = []
        for offset, model in enumerate(models):
            index = base + offset
            _next_index += 1
            if index > 0:
                prefix = f"graph_{index}"
            if log in ("parameters", "all"):
                self._hook_parameters(model, prefix, log_freq)
            if log in ("gradients", "all"):
                self._hook_gradients(model, prefix, log_freq)
            if log_graph:
                graphs.append(self._hook_graph(model, index))
        return graphs  # W&B's: the Graph objects, filled on the first forward pass

    def _hook_graph(self, model: torch.nn.Module, index: int) -> Graph:
        if getattr(model, "_wandb_watch_called", False):
            raise ValueError(
                "You can only call `wandb.watch` once per model.  Pass a new instance of the model if you need to "
                "call wandb.watch again in your code."
            )
        object.__setattr__(model, "_wandb_watch_called", True)
        graph = Graph("torch")
        pending: set[int] = set()
        run = getattr(self._log, "__self__", None)  # the run whose summary gets the graph

        def hook_for(name: str) -> Callable[..., None]:
            def after_forward(module: torch.nn.Module, inputs: Any, output: Any) -> None:
                if id(module) not in pending:
                    return
                params = [(pname, list(p.size())) for pname, p in module.named_parameters()]
                graph.nodes.append(
                    {
                        "name": name,
                        "id": id(module),
                        "class_name": str(module),
                        "output_shape": nested_shape(output if isinstance(output, tuple) else (output,)),
                        "parameters": params,
                        "num_parameters": [reduce(mul, size, 1) for _, size in params],
                    }
                )
                pending.discard(id(module))
                if not pending:  # every leaf ran once: the graph is complete
                    for key in [k for k in self.handles if k.startswith(f"topology/{index}/")]:
                        self.handles.pop(key).remove()
                    graph.loaded = True
                    if run is not None and not getattr(run, "_finished", True):
                        run.summary[f"graph_{index}"] = graph

            return after_forward

        containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)

        def walk(module: torch.nn.Module, prefix: str | None) -> None:
            for layer, (name, child) in enumerate(module.named_children()):
                name = name or str(layer)
                if prefix:
                    name = prefix + "." + name
                if isinstance(child, containers):
                    walk(child, name)
                    continue
                pending.add(id(child))
                key = f"topology/{index}/{name}"
                self.handles[key] = child.register_forward_hook(hook_for(name))
                _hook_names(model).append(key)

        walk(model, None)
        return graph

    def _hook_parameters(self, model: torch.nn.Module, prefix: str, log_freq: int) -> None:
        every = _Every(log_freq)
        name = "parameters/" + prefix

        def after_forward(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            if not every():
                return
            row: dict[str, Any] = {}
            for pname, param in module.named_parameters():
                hist = tensor_histogram(param.data)
                if hist is not None:
                    row["parameters/" + prefix + pname] = hist
            if row:
                self._log(row)

        self.handles[name] = model.register_forward_hook(after_forward)
        _hook_names(model).append(name)

    def _hook_gradients(self, model: torch.nn.Module, prefix: str, log_freq: int) -> None:
        for pname, param in model.named_parameters():
            if not param.requires_grad:
                continue
            key = "gradients/" + prefix + pname
            old = self.handles.get(key)
            if old is not None and _handle_alive(old):
                raise ValueError(f'A hook has already been set under name "{key}"')
            self.handles[key] = param.register_hook(self._gradient_hook(key, _Every(log_freq)))
            _hook_names(model).append(key)

    def _gradient_hook(self, key: str, every: _Every) -> Callable[[Any], None]:
        def on_grad(grad: Any) -> None:
            if every():
                hist = tensor_histogram(grad)
                if hist is not None:
                    self._log({key: hist})

        return on_grad

    def unwatch(self, models: Any = None, warn: Callable[[str], None] | None = None) -> None:
        if not models:
            for handle in self.handles.values():
                handle.remove()
            self.handles.clear()
            return
        if not isinstance(models, Sequence):
            models = (models,)
        for model in models:
            names = getattr(model, "_wandb_hook_names", None)
            if names is None:
                if warn is not None:
                    warn(f"{model} model has not been watched")
                continue
            for name in names:
                handle = self.handles.pop(name, None)
                if handle is not None:
                    handle.remove()
            delattr(model, "_wandb_hook_names")


def nested_shape(value: Any) -> Any:
    """W&B's `nested_shape`: the sizes of tensors, kept in the structure of tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return list(value.size())
    if isinstance(value, (list, tuple)):
        return [nested_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: nested_shape(v) for k, v in value.items()}
    return []


class Graph(Media):
    """A model's graph as W&B's `wandb.Graph` stores it: `{"format", "nodes", "edges"}` in a `.graph.json` file
    under media/graph/, referenced as `{"_type": "graph-file", "path", "sha256", "size"}`."""

    _log_type = "graph-file"

    def __init__(self, format: str = "torch") -> None:
        self.format = format
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[Any] = []
        self.loaded = False

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        data = {"format": self.format, "nodes": self.nodes, "edges": self.edges}
        stored = _StoredFile.from_bytes(json.dumps(data).encode(), "graph", "graph.json")
        return {"_type": self._log_type, **stored.json()}

    def __repr__(self) -> str:
        return f"<runhive Graph {self.format} nodes={len(self.nodes)}>"


def _hook_names(model: torch.nn.Module) -> list[str]:
    # Kept on the module under W&B's attribute name, so unwatch(model) finds them (and W&B code that looks).
    names = getattr(model, "_wandb_hook_names", None)
    if names is None:
        names = []
        object.__setattr__(model, "_wandb_hook_names", names)
    return names  # type: ignore[no-any-return]


def _handle_alive(handle: Any) -> bool:
    hooks = handle.hooks_dict_ref()
    return hooks is not None and handle.id in hooks

#!/usr/bin/env python3
"""PyTorch reference for `synthgrad bench --reference`: trains the model of a synthgrad config the
same way (same layers, BatchNorm, batch, Adam; cDNI/DNI with zero-initialised synthesizers on every
stage's output but the last, or plain backprop) in one process on N threads, and prints its
throughput as one JSON line on stdout.

Not a dependency of the trainer: it needs PyTorch (Debian: `apt-get install python3-torch`).

Input: a JSON request on stdin (written by src/lab/bench/reference.ts):
  {"model": <resolved config.model>, "stages": [[layer indices]...], "mode": "backprop"|"cdni"|"dni",
   "synthesizer": {"hiddenLayers": [...], "batchNorm": bool, "kernelSize": k},
   "optimizer": {"learningRate", "beta1", "beta2", "epsilon"},
   "batchSize": B, "steps": N, "warmup": W, "threads": T, "seed": s,
   optionally "blasThreads": n, "ompWaitPolicy": "PASSIVE"|"ACTIVE"|"default" (the bench tries several
   and keeps the fastest; without them, the choices below for the kind of model)}
Output: {"format": "synthgrad-torch-reference/1", "torch": version, "samplesPerSecond": ..., ...}

The data are random (inputs uniform in [0, 1), random labels) of the config's shapes: the speed of
dense and convolutional layers does not depend on the values. A cDNI/DNI step, stage after stage:
forward the stage on the detached input, predict its output's gradient with the synthesizer
(per-example units: M(h, c) / B is applied, as synthgrad does), backward the stage with it, take its
Adam step; the true gradient that reaches a stage's input is the previous synthesizer's target
(g·B), whose regression step reuses the prediction's graph (same weights in this sequential order).
"""
import json
import math
import os
import sys
import time


def fail(message):
    sys.stderr.write(f"torch-reference: {message}\n")
    sys.exit(2)


def convolutional(request):
    return any(layer["type"] == "conv2d" for layer in request["model"]["layers"])


def blas_threads(request):
    """OpenBLAS's threads: the request's, else for this model as many as torch's for a model of
    dense layers, whose time is in single matrix products that only OpenBLAS spreads over the cores
    (on one 2-core host the MLP ran 2.0-2.2x faster on 2 BLAS threads than on 1); one for a
    convolutional model, which torch spreads over its own threads around the BLAS calls (the CNN's
    cdni ran 0.75x as fast with 2 BLAS threads on top: the cores oversubscribed)."""
    if "blasThreads" in request:
        return request["blasThreads"]
    return 1 if convolutional(request) else request["threads"]


def omp_wait_policy(request):
    """How torch's OpenMP threads wait for work (the request's, else the choice for the kind of
    model), or None for libgomp's own default (spin a while, then sleep). A convolutional model keeps
    the default, under which the CNN ran 1.05-1.15x as fast as with passive waits on one 2-core
    host; a model of dense layers waits passively, since threads that spin take the cores from
    OpenBLAS's (the MLP ran at half its speed or less with the default or active waits). Passive
    waits also keep a shared machine from collapsing the reference: spinning threads ran the MLP 20x
    slower when others' work held the cores."""
    if "ompWaitPolicy" in request:
        return None if request["ompWaitPolicy"] == "default" else request["ompWaitPolicy"]
    return None if convolutional(request) else "PASSIVE"


# The request first: OpenMP and OpenBLAS read these once, when torch loads them. Either variable
# can be set otherwise in the environment; the report says what was used.
try:
    REQUEST = json.load(sys.stdin)
except ValueError as error:
    fail(f"the request on stdin is not JSON ({error})")
WAIT_POLICY = omp_wait_policy(REQUEST)
if WAIT_POLICY:
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(blas_threads(REQUEST)))


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    fail("no module torch in this python; install it with `apt-get install python3-torch` (Debian) or run a python that has it")


def axis_padding(size, window, stride, padding):
    """TensorFlow's 'same'/'valid' padding along one axis (as src/model/spatial.ts): (out, before, after)."""
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + window - size, 0)
        return out, total // 2, total - total // 2
    return (size - window) // stride + 1, 0, 0


class Pad(nn.Module):
    """Asymmetric spatial padding (F.pad order: left, right, top, bottom)."""

    def __init__(self, pads, value):
        super().__init__()
        self.pads, self.value = pads, value

    def forward(self, x):
        return F.pad(x, self.pads, value=self.value)


def spatial(shape, window, stride, padding, value, make):
    """A window op with TensorFlow's padding: the op, padded in front when the padding is uneven."""
    h, w, _ = shape
    oh, top, bottom = axis_padding(h, window, stride, padding)
    ow, left, right = axis_padding(w, window, stride, padding)
    if top == bottom and left == right:
        return [make((top, left))], (oh, ow)
    return [Pad((left, right, top, bottom), value), make((0, 0))], (oh, ow)


def build_layers(layers, shape, zero_output=False):
    """nn modules for synthgrad layer specs on a per-example shape ([units] or [h, w, c]); returns (modules, shape)."""
    modules = []
    for i, spec in enumerate(layers):
        kind = spec["type"]
        last = i == len(layers) - 1
        bn = spec.get("batchNorm", False)
        act = spec.get("activation", "relu")
        if kind == "dense":
            lin = nn.Linear(shape[0], spec["units"], bias=not bn)
            if zero_output and last:
                nn.init.zeros_(lin.weight)
            modules.append(lin)
            if bn:
                modules.append(nn.BatchNorm1d(spec["units"], eps=1e-3, momentum=0.01))
            shape = [spec["units"]]
        elif kind == "conv2d":
            k, s, c = spec["kernelSize"], spec.get("stride", 1), shape[2]
            ops, (oh, ow) = spatial(shape, k, s, spec.get("padding", "same"), 0.0,
                                    lambda pad: nn.Conv2d(c, spec["filters"], k, stride=s, padding=pad, bias=not bn))
            if zero_output and last:
                nn.init.zeros_(ops[-1].weight)
            modules += ops
            if bn:
                modules.append(nn.BatchNorm2d(spec["filters"], eps=1e-3, momentum=0.01))
            shape = [oh, ow, spec["filters"]]
        elif kind in ("maxpool", "avgpool"):
            p = spec["poolSize"]
            s = spec.get("stride") or p
            value = -math.inf if kind == "maxpool" else 0.0
            pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
            ops, (oh, ow) = spatial(shape, p, s, spec.get("padding", "valid"), value, lambda pad: pool(p, stride=s, padding=pad))
            modules += ops
            shape = [oh, ow, shape[2]]
            continue
        elif kind == "flatten":
            modules.append(nn.Flatten())
            shape = [shape[0] * shape[1] * shape[2]]
            continue
        else:
            fail(f"unknown layer type {kind!r} in the request")
        if act == "relu":
            modules.append(nn.ReLU())
    return modules, shape


def synthesizer(shape, request):
    """M: [h, c] -> ĝ for an interface of per-example shape; linear zero-initialised output layer."""
    options = request["synthesizer"]
    label = request["model"]["classes"] if request["mode"] == "cdni" else 0
    bn = options.get("batchNorm", False)
    if len(shape) == 3:
        k = options.get("kernelSize", 5)
        hidden = [{"type": "conv2d", "filters": f, "kernelSize": k, "batchNorm": bn} for f in options["hiddenLayers"]]
        out = {"type": "conv2d", "filters": shape[2], "kernelSize": k, "activation": "linear"}
        in_shape = [shape[0], shape[1], shape[2] + label]
    else:
        hidden = [{"type": "dense", "units": u, "batchNorm": bn} for u in options["hiddenLayers"]]
        out = {"type": "dense", "units": shape[0], "activation": "linear"}
        in_shape = [shape[0] + label]
    modules, _ = build_layers(hidden + [out], in_shape, zero_output=True)
    return nn.Sequential(*modules)


def with_label(h, one_hot):
    """[h, c]: the label as extra features, or as channels constant over the image (NCHW)."""
    if one_hot is None:
        return h
    if h.dim() == 2:
        return torch.cat([h, one_hot], 1)
    b, _, height, width = h.shape
    return torch.cat([h, one_hot[:, :, None, None].expand(b, one_hot.shape[1], height, width)], 1)


def blas_libraries():
    """The BLAS libraries mapped into this process (Debian's torch uses whichever libblas.so.3 the
    system selects: the reference BLAS is many times slower than OpenBLAS)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
    except OSError:
        return []


def main():
    request = REQUEST
    torch.manual_seed(request.get("seed", 1))
    torch.set_num_threads(request["threads"])
    model, mode, b = request["model"], request["mode"], request["batchSize"]
    opt = request["optimizer"]
    adam = lambda params: torch.optim.Adam(params, lr=opt["learningRate"], betas=(opt["beta1"], opt["beta2"]), eps=opt["epsilon"])
    shape = list(model["inputShape"]) if model.get("inputShape") else [model["inputUnits"]]
    stage_nets, shapes = [], [shape]
    for group in request["stages"]:
        modules, shape = build_layers([model["layers"][i] for i in group], shape)
        stage_nets.append(nn.Sequential(*modules))
        shapes.append(shape)
    classes = model["classes"]

    def batch_shape(s):
        return [b, s[2], s[0], s[1]] if len(s) == 3 else [b] + s

    pool = [(torch.rand(batch_shape(shapes[0])), torch.randint(0, classes, (b,))) for _ in range(8)]
    if mode == "backprop":
        net = nn.Sequential(*stage_nets)
        optimizer = adam(net.parameters())

        def step(x, y):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
    elif mode in ("cdni", "dni"):
        last = len(stage_nets) - 1
        stage_opts = [adam(n.parameters()) for n in stage_nets]
        synths = [synthesizer(shapes[i + 1], request) for i in range(last)]
        synth_opts = [adam(m.parameters()) for m in synths]

        def step(x, y):
            one_hot = F.one_hot(y, classes).float() if mode == "cdni" else None
            h, pred = x, None
            for s, net in enumerate(stage_nets):
                inp = h.detach().requires_grad_(s > 0)
                out = net(inp)
                stage_opts[s].zero_grad(set_to_none=True)
                if s < last:
                    next_pred = synths[s](with_label(out.detach(), one_hot))
                    out.backward(next_pred.detach() / b)
                else:
                    F.cross_entropy(out, y).backward()
                stage_opts[s].step()
                if s > 0:
                    synth_opts[s - 1].zero_grad(set_to_none=True)
                    (((pred - inp.grad * b) ** 2).sum() / b).backward()
                    synth_opts[s - 1].step()
                h = out
                pred = next_pred if s < last else None
    else:
        fail(f"unknown mode {mode!r} (expected backprop, cdni or dni)")

    steps, warmup = request["steps"], request["warmup"]
    if not 0 <= warmup < steps:
        fail(f"warmup {warmup} must be below steps {steps}")
    t0 = time.perf_counter()
    mark = t0
    for i in range(steps):
        if i == warmup:
            mark = time.perf_counter()
        x, y = pool[i % len(pool)]
        step(x, y)
    end = time.perf_counter()
    print(json.dumps({
        "format": "synthgrad-torch-reference/1",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mode": mode,
        "steps": steps,
        "warmup": warmup,
        "batchSize": b,
        "samplesPerSecond": (steps - warmup) * b / (end - mark),
        "wallSeconds": end - t0,
        "cpuSeconds": time.process_time(),  # the whole process, import included
        "blas": blas_libraries(),
        "environment": {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")},
    }))


main()

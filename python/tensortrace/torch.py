"""
tensortrace.torch — tracing a PyTorch model: forward hooks write the outputs of the modules a map names, as the
stage points the diff engine knows, and model code can add points of its own (q after RoPE, the KV cache).

    from tensortrace.torch import capture
    with capture(model, "ref.tt", phase="prefill", prompt_id="p0", overwrite=True) as cap:
        model(input_ids, position_ids=pos)        # every mapped module's output is written
        cap.phase, cap.step = "decode0", 1        # then the decode steps
        model(next_ids, position_ids=next_pos)

The default map (DEFAULT_POINTS) fits Llama-style module trees in Hugging Face naming. Keys are module-path
suffixes, '*' standing for one path component (a layer number); values are a point name for the module's output
or a dict {"input": point, "output": point}. points= extends the map (a None value removes an entry);
defaults=False replaces it. The layer is the number after "layers." in the module path (-1 outside layers).

Key fields of each record: prompt_id and phase/step as set on the capture; pos_id the position of the tensor's
first row, from the forward's position_ids when the model is called with them, else cap.position; rows the
sequence length; token_id the input id of the first row; logical_tok_idx = pos_id. Outputs are [batch, seq, ...]
as Hugging Face modules return them; each batch element becomes its own record ([seq, ...]), with prompt_id[b]
when prompt_id is a list. GPU tensors are copied to the host. Cache points (k_cache, v_cache) are keyed pos_id 0,
rows = kv_len.
"""
import contextlib
import inspect
import re
import threading

import torch as _torch

from .writer import CACHE_POINTS, Writer

DEFAULT_POINTS = {
    "embed_tokens": "embed_out",
    "layers.*": {"input": "residual_pre_attn", "output": "residual_post_mlp"},
    "input_layernorm": "attn_norm_out",
    "self_attn.q_proj": "q_pre_rope",
    "self_attn.k_proj": "k_pre_rope",
    "self_attn.v_proj": "v",
    "self_attn.o_proj": "attn_out",
    "post_attention_layernorm": "ffn_norm_in",
    "mlp": "mlp_out",
    "lm_head": "logits",
}

_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)(?:\.|$)")
_active = threading.local()


def _stack():
    if not hasattr(_active, "caps"):
        _active.caps = []
    return _active.caps


def point(name, tensor, layer=-1, **kw):
    """Writes a tensor as point `name` to the innermost active capture of this thread; does nothing when none is
    active. For model code: q after RoPE, the KV cache, attention scores. See capture.point."""
    caps = _stack()
    if caps:
        caps[-1].point(name, layer=layer, tensor=tensor, **kw)


def _match(pattern, name):
    """pattern: a module-path suffix, '*' matching one component."""
    p, n = pattern.split("."), name.split(".")
    if len(p) > len(n):
        return False
    return all(a == "*" or a == b for a, b in zip(p, n[len(n) - len(p):]))


def _layer_of(name):
    m = _LAYER.search(name)
    return int(m.group(1)) if m else -1


def _first_tensor(x):
    if isinstance(x, _torch.Tensor):
        return x
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], _torch.Tensor):
        return x[0]
    if isinstance(x, dict):
        for k in ("hidden_states", "logits", "last_hidden_state"):
            if isinstance(x.get(k), _torch.Tensor):
                return x[k]
    t = getattr(x, "logits", None)  # a ModelOutput-like object
    return t if isinstance(t, _torch.Tensor) else None


class capture:
    """Traces `model` into a trace file (or into an open tt.Writer given as `path`) while the context is open.

    capture(model, path, phase="prefill", prompt_id="p0", points=None, step=0, overwrite=False, defaults=True,
            meta=None, **writer_options)

    Attributes settable between calls: phase, step, prompt_id, position (the first row's position when the
    forward is not given position_ids), enabled. writer_options go to tt.Writer (threads, mode, layers, ...).
    """

    def __init__(self, model, path, phase="prefill", prompt_id="p0", points=None, step=0, overwrite=False,
                 defaults=True, meta=None, **writer_options):
        if not isinstance(model, _torch.nn.Module):
            raise TypeError(f"capture: expected a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.phase, self.step, self.prompt_id = phase, step, prompt_id
        self.position = 0
        self.enabled = True
        self.points = dict(DEFAULT_POINTS) if defaults else {}
        for k, v in (points or {}).items():
            if v is None:
                self.points.pop(k, None)
            elif isinstance(v, str) or (isinstance(v, dict) and set(v) <= {"input", "output"}):
                self.points[k] = v
            else:
                raise ValueError(f"points[{k!r}]: expected a point name or {{'input': ..., 'output': ...}}")
        if isinstance(path, Writer):
            self.writer, self._own = path, False
        else:
            m = {"capture": "tensortrace.torch", "torch_version": _torch.__version__,
                 "model": type(model).__name__}
            m.update(meta or {})
            self.writer = Writer(path, overwrite=overwrite, meta=m, **writer_options)
            self._own = True
        self._ctx = None
        self._hooks = []
        self._saved_forward = None
        self._wrapped = False
        self.mapped = {}  # module path -> point(s), what the hooks write
        try:
            self._install()
        except BaseException:
            self._remove()
            if self._own:
                self.writer.close()
            raise

    # ---- hooks ----
    def _install(self):
        for name, mod in self.model.named_modules():
            if not name:
                continue
            spec = None
            for pattern, v in self.points.items():
                if _match(pattern, name):
                    spec = v  # the last matching entry wins: points= entries come after the defaults
            if spec is None:
                continue
            layer = _layer_of(name)
            io = {"output": spec} if isinstance(spec, str) else spec
            self.mapped[name] = dict(io)
            if io.get("output"):
                self._hooks.append(mod.register_forward_hook(self._out_hook(io["output"], layer)))
            if io.get("input"):
                self._hooks.append(mod.register_forward_pre_hook(self._in_hook(io["input"], layer)))
        # the root's forward is wrapped to see input_ids and position_ids, keyword arguments included
        fwd = self.model.forward
        self._saved_forward = self.model.__dict__.get("forward")
        try:
            sig = inspect.signature(fwd)
        except (TypeError, ValueError):
            sig = None

        def forward(*args, **kwargs):
            outer = self._ctx
            self._ctx = self._context(sig, args, kwargs)
            try:
                return fwd(*args, **kwargs)
            finally:
                self._ctx = outer
        self.model.forward = forward
        self._wrapped = True

    def _out_hook(self, pname, layer):
        def hook(mod, inputs, output):
            t = _first_tensor(output)
            if t is not None:
                self._write(pname, layer, t)
        return hook

    def _in_hook(self, pname, layer):
        def hook(mod, inputs):
            t = _first_tensor(inputs)
            if t is not None:
                self._write(pname, layer, t)
        return hook

    def _remove(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []
        if self._wrapped:  # put back what was there: an instance's own forward, or none (the class's)
            if self._saved_forward is not None:
                self.model.forward = self._saved_forward
            else:
                self.model.__dict__.pop("forward", None)
        self._saved_forward, self._wrapped = None, False

    @staticmethod
    def _context(sig, args, kwargs):
        bound = {}
        if sig is not None:
            try:
                bound = dict(sig.bind_partial(*args, **kwargs).arguments)
            except TypeError:
                bound = dict(kwargs)
        ids = bound.get("input_ids", args[0] if args and isinstance(args[0], _torch.Tensor) else None)
        pos = bound.get("position_ids")
        if pos is None:
            pos = bound.get("cache_position")
        if ids is not None and ids.dim() == 1:
            ids = ids.unsqueeze(0)
        if pos is not None:
            pos = _torch.as_tensor(pos)
            if pos.dim() == 1:
                pos = pos.unsqueeze(0)
        return {"ids": ids, "pos": pos}

    # ---- writing ----
    def _key(self, b):
        """prompt_id, position and token id of the first row of batch element b in the current forward."""
        ctx = self._ctx or {}
        ids, pos = ctx.get("ids"), ctx.get("pos")
        p = int(pos[min(b, pos.shape[0] - 1), 0]) if pos is not None and pos.numel() else int(self.position)
        tok = int(ids[b, 0]) if ids is not None and ids.dim() == 2 and b < ids.shape[0] and ids.shape[1] else None
        pid = self.prompt_id
        if isinstance(pid, (list, tuple)):
            pid = pid[b]
        return pid, p, tok

    def _write(self, pname, layer, t, batched=True, pos_id=None, rows=None):
        if not self.enabled or not self.writer.wants(pname, layer, None, self.phase):
            return
        t = t.detach()
        if batched:
            if t.dim() < 2:
                raise ValueError(f"{pname} (layer {layer}): expected [batch, seq, ...], got shape {tuple(t.shape)}")
            elements = [t[b] for b in range(t.shape[0])]
        else:
            elements = [t]
        for b, x in enumerate(elements):
            pid, p, tok = self._key(b)
            if pos_id is not None:
                p = int(pos_id)
            # a cache record holds positions 0..kv_len-1: keyed pos_id 0; its token fields name the token whose
            # forward wrote it, which is how the diff engine groups it with that token's other records
            self.writer.put(x, point=pname, layer=layer, phase=self.phase, step=self.step, prompt_id=pid,
                            token_id=tok, pos_id=0 if pname in CACHE_POINTS else p, logical_tok_idx=p, rows=rows)

    def point(self, name, layer=-1, tensor=None, batched=True, pos_id=None):
        """Writes a tensor computed inside a forward as point `name`: laid out [batch, seq, ...] like the modules'
        outputs (batched=False for one sequence [seq, ...]). Cache points take [batch, kv_len, features] and
        are keyed pos_id 0, rows = kv_len. pos_id overrides the position of the first row."""
        if not isinstance(tensor, _torch.Tensor):
            raise TypeError(f"point {name!r}: tensor must be a torch.Tensor, got {type(tensor).__name__}")
        self._write(name, int(layer), tensor, batched=batched, pos_id=pos_id)

    @contextlib.contextmanager
    def paused(self):
        """Nothing is written inside this block (a forward that only fills a cache)."""
        was, self.enabled = self.enabled, False
        try:
            yield self
        finally:
            self.enabled = was

    # ---- life ----
    def close(self):
        """Removes the hooks and closes the writer (when the capture opened it). Closing again does nothing."""
        self._remove()
        caps = _stack()
        if self in caps:
            caps.remove(self)
        if self._own:
            self.writer.close()

    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.close()
        else:
            try:
                self.close()
            except Exception:
                pass
        return False

"""
tensortrace.torch.capture on the torch_llama sample: what the hooks write and how they key it, and the sample's
prefill/decode protocol through tt.diff and tracediff (no mismatch; ROPE_DRIFT at layer 0 with the RoPE bug).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensortrace as tt  # noqa: E402
from tensortrace import torch as ttt  # noqa: E402
from conftest import SRC, tracediff_json  # noqa: E402

sys.path.insert(0, os.path.join(SRC, "samples", "torch_llama"))
from model import KVCache, LlamaConfig, LlamaForCausalLM  # noqa: E402

SMALL = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=48)


def small_model(**kw):
    return LlamaForCausalLM(LlamaConfig(**SMALL, **kw)).eval()


def test_default_map_keys_every_stage_of_an_hf_style_tree(tmp_path):
    m = small_model()
    ids = torch.tensor([[3, 9, 27, 4, 11]])
    with torch.no_grad(), ttt.capture(m, tmp_path / "c.tt", prompt_id="p0") as cap:
        m(ids, position_ids=torch.arange(5)[None], cache=KVCache(2))
    assert cap.mapped["model.layers.1.self_attn.q_proj"] == {"output": "q_pre_rope"}
    assert cap.mapped["model.layers.0"] == {"input": "residual_pre_attn", "output": "residual_post_mlp"}
    with tt.open(tmp_path / "c.tt") as t:
        recs = list(t)
        points = {(r.point, r.layer) for r in recs}
        per_layer = ["residual_pre_attn", "attn_norm_out", "q_pre_rope", "k_pre_rope", "v", "q_post_rope",
                     "k_post_rope", "k_cache", "v_cache", "attn_scores", "attn_probs", "attn_out",
                     "residual_post_attn", "ffn_norm_in", "mlp_out", "residual_post_mlp"]
        assert points == {("embed_out", -1), ("logits", -1)} | {(p, l) for p in per_layer for l in (0, 1)}
        assert len(recs) == len(points)  # each once
        emb = t.find(point="embed_out")
        assert (emb.phase, emb.step, emb.prompt_id, emb.pos_id, emb.rows, emb.token_id, emb.shape) == \
            ("prefill", 0, "p0", 0, 5, 3, (5, 32))
        np.testing.assert_array_equal(emb.numpy(), m.model.embed_tokens.weight[ids[0]].detach().numpy())
        # the decoder layer's input is the residual stream entering it: layer 1's is layer 0's output
        np.testing.assert_array_equal(t.find(point="residual_pre_attn", layer=1).numpy(),
                                      t.find(point="residual_post_mlp", layer=0).numpy())
        k = t.find(point="k_cache", layer=1)
        assert (k.pos_id, k.rows, k.shape, k.logical_tok_idx) == (0, 5, (5, 16), 0)
        assert t.find(point="logits").shape == (5, 64)
        assert t.meta["capture"] == "tensortrace.torch" and t.meta["model"] == "LlamaForCausalLM"


def test_phase_step_positions_and_batches(tmp_path):
    m = small_model()
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    cache = KVCache(2)
    with torch.no_grad(), ttt.capture(m, tmp_path / "c.tt", prompt_id=["a", "b"], points={"mlp": None}) as cap:
        m(ids[:, :3], position_ids=torch.arange(3)[None].expand(2, -1), cache=cache)
        cap.phase, cap.step = "decode0", 1
        m(ids[:, 3:], cache=cache)  # no position_ids: cap.position
        cap.position = 3
        cap.phase, cap.step = "decode1", 2
        m(ids[:, 3:], position_ids=torch.tensor([[3], [3]]), cache=KVCache(2))
        with cap.paused():
            m(ids, cache=KVCache(2))
    with tt.open(tmp_path / "c.tt") as t:
        assert not t.select(point="mlp_out")  # removed from the map
        pre = t.select("point=attn_out", "layer=0", "phase=prefill")
        assert [(r.prompt_id, r.pos_id, r.rows, r.token_id) for r in pre] == [("a", 0, 3, 1), ("b", 0, 3, 5)]
        d0 = t.select("point=attn_out", "layer=0", "phase=decode0")
        assert [(r.prompt_id, r.pos_id, r.step, r.token_id) for r in d0] == [("a", 0, 1, 4), ("b", 0, 1, 8)]
        d1 = t.select("point=q_post_rope", "layer=1", "phase=decode1")
        assert [(r.pos_id, r.logical_tok_idx, r.step) for r in d1] == [(3, 3, 2)] * 2
        assert len(t.select(phase="prefill")) == len(t.select(phase="decode0")) == len(t.select(phase="decode1"))
        assert len(t) == 3 * len(t.select(phase="prefill"))  # nothing from the paused forward


def test_points_extend_replace_and_manual_points(tmp_path):
    m = small_model()
    ids = torch.tensor([[1, 2]])
    with torch.no_grad(), ttt.capture(m, tmp_path / "c.tt", defaults=False,
                                      points={"mlp.gate_proj": "gate", "model.norm": "final_norm"}) as cap:
        m(ids)
        cap.point("extra", layer=3, tensor=torch.ones(1, 2, 4))
        cap.point("one_seq", tensor=torch.ones(2, 4), batched=False, pos_id=7)
    with tt.open(tmp_path / "c.tt") as t:
        names = {r.point for r in t}
        # defaults off: the model's own manual points (q_post_rope...) still come through tensortrace.torch.point
        assert {"gate", "final_norm", "extra", "one_seq"} <= names and "attn_out" not in names
        assert {r.layer for r in t.select(point="gate")} == {0, 1}
        assert t.find(point="extra").layer == 3 and t.find(point="one_seq").pos_id == 7


def test_hooks_are_removed_and_points_are_no_ops_outside(tmp_path):
    m = small_model()
    fwd = m.forward
    with ttt.capture(m, tmp_path / "c.tt") as cap:
        pass
    assert cap.writer.closed and m.forward == fwd and "forward" not in m.__dict__
    assert not any(mod._forward_hooks or mod._forward_pre_hooks for mod in m.modules())
    ttt.point("q_post_rope", torch.ones(1, 2, 3))  # nothing active: nothing happens
    with torch.no_grad():
        m(torch.tensor([[1, 2]]))
    with tt.open(tmp_path / "c.tt") as t:
        assert len(t) == 0
    with pytest.raises(TypeError, match="nn.Module"):
        ttt.capture("not a model", tmp_path / "d.tt")
    with pytest.raises(ValueError, match="points"):
        ttt.capture(m, tmp_path / "e.tt", points={"mlp": 3})


def run_sample(tmp_path, *args):
    out = tmp_path / ("sample" + "".join(a.replace("-", "") for a in args) + ".tt")
    subprocess.run([sys.executable, os.path.join(SRC, "samples", "torch_llama", "run.py"), "-o", str(out), "-q",
                    *args], check=True)
    return out


KV = dict(mode="kv_aligned", left=["phase=prefill"], right=["phase=decode0"], align="pos")
KV_ARGS = ["--mode", "kv_aligned", "--left", "phase=prefill", "--right", "phase=decode0", "--align", "pos"]


def test_torch_sample_prefill_against_decode_has_no_mismatch(tmp_path):
    path = run_sample(tmp_path)
    r = tt.diff(path, **KV)
    assert r.verdict in ("IDENTICAL", "STRUCTURAL_DRIFT") and r.exit_code == 0
    assert r.counts["mismatch"] == r.counts["missing"] == r.counts["errors"] == 0
    assert r.counts["pairs"] == 3 * (2 + 4 * 16)  # 3 prompts, embed_out + logits + 16 points x 4 layers
    assert all(k["result"] != "fail" for k in r.kv_checks) and any(k["result"] == "pass" for k in r.kv_checks)
    rc, doc = tracediff_json(*KV_ARGS, path)
    assert rc == 0 and doc["verdict"] == r.verdict


def test_torch_sample_with_the_rope_bug_is_rope_drift_at_layer_0(tmp_path):
    path = run_sample(tmp_path, "--bug", "rope-pos")
    r = tt.diff(path, **KV)
    assert r.verdict == "MISMATCH" and r.exit_code == 1
    ff = r.first_failure
    assert (ff["point"], ff["layer"], ff["root_cause"]) == ("q_post_rope", 0, "ROPE_DRIFT")
    before = [p["verdict"] for p in r.doc["pairs"] if p["layer"] == 0 and p["point"] in ("q_pre_rope", "k_pre_rope",
                                                                                           "v")]
    assert len(before) == 9 and set(before) <= {"MATCH", "WITHIN_TOL"}  # projections fine, RoPE is not
    rc, doc = tracediff_json(*KV_ARGS, path)
    assert rc == 1 and doc["first_failure"]["root_cause"] == "ROPE_DRIFT"


def test_torch_sample_bf16_runs(tmp_path):
    path = run_sample(tmp_path, "--dtype", "bf16", "--layers", "1", "--prompts", "p0_short")
    with tt.open(path) as t:
        assert {r.dtype for r in t} == {"bf16"} and t.meta["dtype"] == "bf16"
        assert t.find(point="attn_out", phase="decode0").torch().dtype == torch.bfloat16

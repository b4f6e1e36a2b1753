"""
Tensor-parallel capture from Python: Writer(rank=, world_size=) with %r in the path, put(..., shard=) for
column-parallel slices and row-parallel partial sums, the layouts read back (Record.shard, the records table),
bad layouts refused with the library's rule, and the writer's rank as every record's default.
"""
import numpy as np
import pytest

import tensortrace as tt


def test_rank_files_and_shards(tmp_path):
    whole = np.arange(24, dtype=np.float32).reshape(2, 12)
    parts = np.split(whole, 4, axis=1)
    addends = [whole * (i + 1) / 10 for i in range(4)]
    for r in range(4):
        with tt.Writer(tmp_path / "tp-%r.tt", rank=r, world_size=4) as w:
            assert w.path.endswith(f"tp-{r}.tt") and w.rank == r
            w.put(parts[r], point="q_pre_rope", layer=0, shard=("split", 1, r, 4))
            w.put(addends[r], point="attn_out", layer=0, shard=tt.Shard.partial(r, 4))
            if r == 0:
                w.put(whole, point="residual_post_attn", layer=0)
    got_split, got_sum = [], np.zeros_like(whole, dtype=np.float64)
    for r in range(4):
        with tt.open(tmp_path / f"tp-{r}.tt") as t:
            assert t.meta["rank"] == str(r) and t.meta["world_size"] == "4"
            q, o = t[0], t[1]
            assert q.rank == r and o.rank == r
            assert q.shard == tt.Shard("split", 1, r, 4)
            assert (q.shard_kind, q.shard_dim, q.shard_index, q.shard_count) == ("split", 1, r, 4)
            assert o.shard == tt.Shard("partial", -1, r, 4)
            got_split.append(q.numpy())
            got_sum += o.numpy()
            cols = t.records
            assert list(cols["shard_kind"])[:2] == ["split", "partial"]
            assert list(cols["shard_index"])[:2] == [r, r]
            if r == 0:
                assert t[2].shard is None and t[2].shard_kind == "none" and t[2].shard_index == -1
            else:
                assert len(t) == 2
    assert np.array_equal(np.concatenate(got_split, axis=1), whole)
    assert np.allclose(got_sum, whole, rtol=1e-6)


@pytest.mark.parametrize("shard,words", [
    (("split", 1, 4, 4), "shard_index 4 outside 0..3"),
    (("split", 2, 0, 4), "shard_dim 2 of a tensor with 2 dimensions"),
    (("partial", 0, 0), "shard_count 0 outside 1..65536"),
    (("spread", 0, 1), "expected"),
    (("split", 1, 0), "expected"),
])
def test_bad_shard(tmp_path, shard, words):
    with tt.Writer(tmp_path / "bad.tt") as w:
        with pytest.raises(ValueError, match=words):
            w.put(np.zeros((2, 4), np.float32), point="x", shard=shard)
        assert w.put(np.zeros((2, 4), np.float32), point="x", shard=("split", 0, 0, 1)) == "written"


def test_rank_default_and_errors(tmp_path):
    with tt.Writer(tmp_path / "r.tt", rank=5) as w:
        w.put(np.zeros(3, np.float32), point="a")
        w.put(np.zeros(3, np.float32), point="b", rank=2)
    with tt.open(tmp_path / "r.tt") as t:
        assert [r.rank for r in t] == [5, 2]
    with tt.Writer(tmp_path / "n.tt") as w:  # no rank: records are rank 0, no rank metadata
        assert w.rank is None
        w.put(np.zeros(3, np.float32), point="a")
    with tt.open(tmp_path / "n.tt") as t:
        assert t[0].rank == 0 and "rank" not in t.meta
    with pytest.raises(tt.TraceError, match="no rank is known"):
        tt.Writer(tmp_path / "x-%r.tt")
    with pytest.raises(tt.TraceError, match="not below the world size"):
        tt.Writer(tmp_path / "x-%r.tt", rank=4, world_size=4)
    with pytest.raises(tt.TraceError, match="not %r"):
        tt.Writer(tmp_path / "x-%q.tt", rank=0)

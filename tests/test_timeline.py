"""Timeline: reveal frames, chapters and subsets, timing and pacing, a narrator's timing, captions,
close-ups, camera, key budget."""


import numpy as np
import pytest

from llmviz_blender import layout as L
from llmviz_blender import model
from llmviz_blender import timeline as tl
from llmviz_blender.defaults import HIGHLIGHT_FRAMES
from llmviz_blender.layout import readout
from llmviz_blender.layout.formula import num, precise
from llmviz_blender.timeline.reveal import units
from llmviz_blender.i18n import ENGLISH
from llmviz_blender.timeline.story import SPLIT_CUES, split_caption

SPLIT_OVER = SPLIT_CUES * 2 * ENGLISH.line

NANO = model.load_preset("nano-gpt")
WEIGHTS = model.default_weights(NANO)
TOKENS = model.encode(NANO, "CBABBC")
GEN = model.generate(WEIGHTS, TOKENS, 6)
TRACE = GEN.traces[0]
LAYOUT = L.model_layout(NANO, len(TOKENS))
#: With the generation: a column for every token fed back, and the trace of its last pass.
FED_LAYOUT, FED_TRACE = L.model_layout(NANO, len(GEN.tokens) - 1), GEN.traces[-1]


def build(**kw) -> tl.Timeline:
    kw.setdefault("generation", GEN)
    kw.setdefault("weights", WEIGHTS)
    lay, trace = (FED_LAYOUT, FED_TRACE) if kw["generation"] is not None else (LAYOUT, TRACE)
    return tl.build_timeline(lay, trace, **kw)


@pytest.fixture(scope="module")
def full() -> tl.Timeline:
    return build()


def computed(t: tl.Timeline) -> list[str]:
    """Keys of blocks computed inside the timeline's range."""
    return [k for k, r in t.reveal.items() if r.size and t.frame_start <= r.min() and r.max() <= t.frame_end]


def chapter_length(c) -> int:
    return c.frame_end - c.frame_start + 1


def check_order(t: tl.Timeline, lay: L.Layout) -> None:
    """Weights always there; per token position (a column, or an attention row), each block's
    cells are computed in range, before the first frame or never, and after every position up to
    it of each block they read (the keys and values of earlier positions too), none of them NEVER."""
    for b in lay.blocks:
        r = t.reveal[b.key]
        if b.kind == "weight":
            assert np.all(r == tl.ALWAYS), b.key
            continue
        unit = units(b)
        for c in range(lay.n_tokens):
            mine = r[unit == c]
            inside = (mine >= t.frame_start) & (mine <= t.frame_end)
            assert inside.all() or np.all(mine < t.frame_start) or np.all(mine == tl.NEVER), (b.key, c)
            if mine[0] == tl.NEVER:
                continue
            for q in b.reads:
                if lay[q].kind != "weight":
                    before = t.reveal[q][units(lay[q]) <= c]
                    assert before.max() < (mine.min() if inside.all() else t.frame_start), (b.key, q, c)


# ---- reveal frames -------------------------------------------------------------------------------

def test_every_computed_cell_has_a_frame_in_range(full):
    assert [c.id for c in full.chapters] == [c for c in tl.CHAPTERS if c != "facts"]  # facts: word models
    for b in FED_LAYOUT.blocks:
        r = full.reveal[b.key]
        assert r.dtype == np.float32 and r.shape == (b.n_cells,)
        if b.kind == "weight":
            assert np.all(r == tl.ALWAYS), b.key
        else:
            assert np.all((r >= full.frame_start) & (r <= full.frame_end)), b.key
    # the overview flies over before anything is computed
    first = min(float(full.reveal[k].min()) for k in computed(full))
    assert first > full.chapter("overview").frame_end


def test_reveal_follows_computation_order(full):
    check_order(full, FED_LAYOUT)
    # each chapter computes its blocks' input columns inside its frames; the generation the others
    for c in full.chapters:
        for k in c.blocks:
            first = units(FED_LAYOUT[k]) < len(TOKENS)
            r = full.reveal[k][first if c.id != "generation" else ~first]
            assert c.frame_start <= r.min() and r.max() <= c.frame_end, (c.id, k)


def test_generation_passes_compute_one_column_each(full):
    """Each pass after the first computes exactly its new column (an attention matrix: its new row)
    of every block, within its own step; the probabilities and the next token in the step after."""
    gen = full.chapter("generation").steps
    runs = [s for s in gen if "tokens" in s.computes]  # a pass through the stack (its caption may go on in a step)
    outs = [s for s in gen if "probs" in s.computes]  # then its outcome
    n_in = len(TOKENS)
    assert len(runs) == len(outs) == len(GEN.tokens) - 1 - n_in
    for j, c in enumerate(range(n_in, len(GEN.tokens) - 1)):
        run, out = runs[j], outs[j]
        for b in FED_LAYOUT.blocks:
            if b.kind == "weight":
                continue
            r = full.reveal[b.key][units(b) == c]
            step = out if b.key in ("logits.max", "logits.sumexp", "probs") else run
            assert np.all((step.frame_start <= r) & (r <= step.frame_end)), (b.key, c)
            assert np.all(full.reveal[b.key][units(b) < c] < step.frame_start), (b.key, c)
        told = " ".join(x.caption for x in gen if run.frame_start <= x.frame_start < out.frame_start)
        assert f"column {c}" in told and f"{c + 1}" in told
        tok = GEN.tokens[c + 1]
        assert f"predicts '{model.decode(NANO, [tok])}'" in out.caption
        assert f"{float(GEN.traces[j + 1]['probs'][-1][tok]):.2f}" in out.caption
        np.testing.assert_allclose(FED_TRACE["probs"][c], GEN.traces[j + 1]["probs"][-1], atol=1e-6)
    assert [p.frame_start for p in full.predictions] == [s.frame_start for s in [*runs, gen[-1]]]


@pytest.mark.parametrize("key", ["x", "h0.ln1", "h0.head1.q", "h0.head2.y", "h1.fc", "logits", "h0.ln1.mean"])
def test_activations_column_by_column(full, key):
    block = FED_LAYOUT[key]
    rows, cols = block.cells()
    r = full.reveal[key]
    for c in range(block.cols.size - 1):
        assert r[cols == c].max() < r[cols == c + 1].min()
    for c in range(block.cols.size):
        col = r[cols == c][np.argsort(rows[cols == c])]
        assert np.all(np.diff(col) >= 0)  # top to bottom


@pytest.mark.parametrize("key", ["h0.head0.att", "h0.head0.att_sm", "h2.head1.att", "h0.head0.att.max"])
def test_attention_row_by_row(full, key):
    block = FED_LAYOUT[key]
    rows, cols = block.cells()
    r = full.reveal[key]
    t = FED_LAYOUT.n_tokens
    if block.triangle:
        assert r.size == t * (t + 1) // 2 and np.all(cols <= rows)
    for i in range(block.rows.size - 1):
        assert r[rows == i].max() < r[rows == i + 1].min()
    for i in range(block.rows.size):
        assert np.all(np.diff(r[rows == i][np.argsort(cols[rows == i])]) >= 0)


@pytest.mark.parametrize("config, n_tokens", [
    (model.ModelConfig("one", 1, 1, 4, 5, 4), 1),
    (model.ModelConfig("wide", 13, 2, 8, 7, 6), 3),
    (model.ModelConfig("abc", 2, 3, 6, 3, 5, vocab=("x", "y", "z")), 4),
    (model.ModelConfig("llama", 2, 4, 16, 5, 8, family="llama", n_kv_head=2, n_inner=24, qkv_bias=False,
                       vocab=("the", "cat", "sat", "on", "mat")), 4),
])
def test_order_for_other_shapes_and_subsets(config, n_tokens):
    w = model.random_weights(config, seed=0)
    gen = model.generate(w, [i % config.vocab_size for i in range(n_tokens)], 2)
    lay = L.model_layout(config, n_tokens + 1)  # a column for the first generated token, fed back
    for start in sorted({0, config.n_layer - 1}):
        for chapters in (None, ["attention", "output"], ["overview", "mlp", "generation"],
                         ["layer_norm", "generation"]):
            t = tl.build_timeline(lay, gen.traces[-1], chapters=chapters, start_layer=start, generation=gen, weights=w)
            check_order(t, lay)
            if chapters is None:
                assert set(computed(t)) >= {b.key for b in lay.blocks if b.kind != "weight" and b.layer >= start}


def test_short_steps_keep_order():
    t = build(timing=tl.Timing(fps=1, speed=10.0))
    assert all(s.frame_end > s.frame_start for s in t.steps)
    check_order(t, FED_LAYOUT)
    assert set(computed(t)) == {b.key for b in FED_LAYOUT.blocks if b.kind != "weight"}


# ---- timing --------------------------------------------------------------------------------------

def test_fps_and_speed_scale_lengths(full):
    n = full.frame_end - full.frame_start + 1
    double = build(timing=tl.Timing(fps=48))
    half = build(timing=tl.Timing(speed=2.0))
    assert abs((double.frame_end - double.frame_start + 1) - 2 * n) <= 1
    assert abs((half.frame_end - half.frame_start + 1) - n / 2) <= 1
    for a, b, c in zip(full.chapters, double.chapters, half.chapters):
        assert abs(chapter_length(b) - 2 * chapter_length(a)) <= 2
        assert abs(chapter_length(c) - chapter_length(a) / 2) <= 2
    assert double.fps == 48


def test_durations_and_frame_start():
    base = build()
    longer = build(timing=tl.Timing(durations={"attention": 64.0}))  # the chapter's seconds, exactly
    for a, b in zip(base.chapters, longer.chapters):
        expect = 64 * 24 if a.id == "attention" else chapter_length(a)
        assert abs(chapter_length(b) - expect) <= 1, a.id
    shifted = build(timing=tl.Timing(frame_start=101))
    assert shifted.frame_start == 101 and shifted.frame_end == base.frame_end + 100
    np.testing.assert_allclose(shifted.reveal["h0.fc"], base.reveal["h0.fc"] + 100, atol=1e-3)
    # stack is per remaining layer: from layer 1 it runs one layer instead of two
    assert abs(chapter_length(build(start_layer=1).chapter("stack")) - chapter_length(base.chapter("stack")) / 2) <= 1


@pytest.mark.parametrize("kwargs, field", [
    ({"fps": 0}, "Timing.fps"), ({"fps": 2.5}, "Timing.fps"), ({"speed": 0}, "Timing.speed"),
    ({"speed": -1.0}, "Timing.speed"), ({"speed": float("nan")}, "Timing.speed"),
    ({"durations": {"intro": 3.0}}, "Timing.durations"), ({"durations": {"mlp": -1.0}}, "Timing.durations['mlp']"),
    ({"durations": {"mlp": 0}}, "Timing.durations['mlp']"), ({"frame_start": 1.5}, "Timing.frame_start"),
    ({"durations": [3.0]}, "Timing.durations"), ({"reading_speed": 0}, "Timing.reading_speed"),
    ({"reading_speed": "fast"}, "Timing.reading_speed"), ({"reading_speed": float("inf")}, "Timing.reading_speed"),
    ({"steps": {"dance": {1: 2.0}}}, "Timing.steps['dance']"), ({"steps": {"mlp": 2.0}}, "Timing.steps['mlp']"),
    ({"steps": {"mlp": {0: 2.0}}}, "Timing.steps['mlp'][0]"), ({"steps": {"mlp": {1: -2.0}}}, "Timing.steps['mlp'][1]"),
    ({"steps": {"mlp": {1: "2"}}}, "Timing.steps['mlp'][1]"), ({"steps": {"mlp": {True: 2.0}}}, "Timing.steps['mlp']"),
])
def test_bad_timing(kwargs, field):
    with pytest.raises(tl.TimelineError) as err:
        tl.Timing(**kwargs)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_timing_defaults():
    t = tl.Timing(durations={"mlp": 20})
    assert t.fps == 24 and t.speed == 1.0 and t.frame_start == 1 and t.reading_speed is None and ENGLISH.reading_speed == 14
    assert t.durations == {"mlp": 20.0} and t.steps == {}  # only what is given; the rest is paced
    assert set(tl.DEFAULT_DURATIONS) == set(tl.CHAPTERS)
    assert tl.DEFAULT_DURATIONS["stack"] < tl.DEFAULT_DURATIONS["attention"]
    assert t.reading(140, ENGLISH) == pytest.approx(10.5)  # 10 s to read, half a second to settle


# ---- pacing --------------------------------------------------------------------------------------

def on_screen(t: tl.Timeline, s: tl.Step) -> int:
    """Characters a step shows: its caption, and its close-up's formula when the plate is on screen."""
    formula = next((u.formula for u in t.closeups if u.frame_start <= s.frame_start <= u.frame_end), "")
    return len(s.caption) + (len(formula) if s.formula else 0)


def seconds(s: tl.Step, fps: int = 24) -> float:
    return (s.frame_end - s.frame_start + 1) / fps


def test_every_step_can_be_read(full):
    """The default walkthrough: no step faster than 15 characters a second, formula included."""
    for s in full.steps:
        assert on_screen(full, s) / seconds(s) <= 15, s.caption
    slower = build(timing=tl.Timing(reading_speed=7.0))
    for a, b in zip(full.steps, slower.steps):  # reading-bound steps take twice as long to read
        reading = on_screen(full, a) / ENGLISH.reading_speed
        if reading > 2 * (a.motion_end - a.frame_start) / 24:
            assert seconds(b) == pytest.approx(2 * reading + 0.5, abs=0.1), a.caption


def test_motion_first_then_hold(full):
    """Cells, camera and close-ups move from a step's start to its motion_end, then hold."""
    keys = [k.frame for k in full.camera_keys]
    for s in full.steps:
        assert s.frame_start <= s.motion_end <= s.frame_end
        assert s.motion_end > s.frame_start or not s.computes  # only a held caption part has no motion
        for k in s.computes:
            r = full.reveal[k]
            r = r[(r >= s.frame_start) & (r <= s.frame_end)]
            assert r.size and r.max() + HIGHLIGHT_FRAMES <= s.motion_end + 1e-3 or s.motion_end == s.frame_end, k
        assert not [f for f in keys if s.motion_end < f < s.frame_end]  # the last key may stand at its end
        assert full.camera_at(s.motion_end) == full.camera_at(s.frame_end)
    assert any(s.frame_end - s.motion_end > 24 for s in full.steps)  # text-bound steps hold a while


def test_long_captions_become_two_steps(full):
    assert split_caption("Short. Caption.", ENGLISH) == ["Short. Caption."]
    long = " ".join(f"Sentence number {i} says a little more." for i in range(6))
    first, second = split_caption(long, ENGLISH)
    assert len(long) > SPLIT_OVER and f"{first} {second}" == long and first.endswith(".")
    assert abs(len(first) - len(second)) < 40
    assert split_caption("x" * (SPLIT_OVER + 1), ENGLISH) == ["x" * (SPLIT_OVER + 1)]  # no sentence end: whole
    steps = full.chapter("attention").steps
    i = next(i for i, s in enumerate(steps) if s.caption.startswith("Softmax"))
    a, b = steps[i - 1], steps[i]
    assert len(a.caption) + len(b.caption) + 1 > SPLIT_OVER and not b.computes and a.computes
    assert (b.subject, b.target, b.focus, b.formula) == (a.subject, a.target, a.focus, a.formula)
    assert b.motion_end == b.frame_start and full.camera_at(a.frame_end) == full.camera_at(b.frame_end)
    row = next(u for u in full.closeups if u.kind == "attention_row")  # its formula stays on screen
    assert (row.frame_start, row.frame_end) == (a.frame_start, b.frame_end)
    assert all(len(s.caption) <= SPLIT_OVER for s in full.steps)


# ---- a narrator's timing -------------------------------------------------------------------------

NARRATION = {"chapters": {"attention": 40.0}, "steps": {"attention": {"1": 6.5, "3": 12}, "mlp": {2: 3.0}}}


def test_narrated_seconds(full, tmp_path):
    t = build(timing=tl.Timing.narrated(NARRATION))
    att = t.chapter("attention")
    assert chapter_length(att) == 40 * 24
    assert seconds(att.steps[0]) == 6.5 and seconds(att.steps[2]) == 12
    assert seconds(t.chapter("mlp").steps[1]) == 3.0  # shorter than its text: the narrator decides
    paced = full.chapter("attention").steps
    rest = [seconds(s) for i, s in enumerate(att.steps) if i not in (0, 2)]
    free = [seconds(s) for i, s in enumerate(paced) if i not in (0, 2)]
    np.testing.assert_allclose(np.divide(rest, free), 21.5 / sum(free), atol=0.02)  # paced proportions
    for a, b in zip(full.chapters, t.chapters):
        if a.id not in ("attention", "mlp"):
            assert abs(chapter_length(a) - chapter_length(b)) <= 1, a.id  # frames round
    for s in t.steps:  # motion fits in: a short step squeezes it
        assert s.frame_start <= s.motion_end <= s.frame_end
    path = tmp_path / "narration.toml"
    path.write_text('[chapters]\nattention = 40.0\n\n[steps.attention]\n1 = 6.5\n3 = 12\n\n[steps.mlp]\n2 = 3\n')
    from_file = build(timing=tl.Timing.narrated(path))
    assert [(s.frame_start, s.frame_end) for s in from_file.steps] == [(s.frame_start, s.frame_end) for s in t.steps]
    fast = build(timing=tl.Timing.narrated(path, speed=2.0))  # speed scales a narrator's seconds too
    assert chapter_length(fast.chapter("attention")) == 20 * 24


@pytest.mark.parametrize("text, message", [
    (None, "cannot read"),
    ("[chapters\n", "not valid TOML"),
    ("[voices]\nx = 1\n", "voices: unknown key"),
    ("[chapters]\nintro = 4\n", "chapters.intro: unknown chapter"),
    ("[chapters]\nmlp = -4\n", "chapters.mlp: must be a number of seconds > 0"),
    ("[chapters]\nmlp = 'long'\n", "chapters.mlp: must be a number of seconds > 0"),
    ("chapters = 3\n", "chapters: must be a table"),
    ("[steps.mlp]\n0 = 4\n", "steps.mlp.0: not a step number"),
    ("[steps.mlp]\nfirst = 4\n", "steps.mlp.first: not a step number"),
    ("[steps.mlp]\n1 = 0\n", "steps.mlp.1: must be a number of seconds > 0"),
    ("[steps.mlp]\n9 = 4\n", "steps.mlp.9: out of range: mlp has 5 steps"),
    ("[chapters]\nmlp = 4\n[steps.mlp]\n1 = 5\n", "chapters.mlp: 4 s, but its steps given take 5 s"),
])
def test_bad_narration(tmp_path, text, message):
    path = tmp_path / "narration.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(tl.TimelineError) as err:
        build(timing=tl.Timing.narrated(str(path)))
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value), str(err.value)


# ---- subsets -------------------------------------------------------------------------------------

def test_chapter_subset():
    t = build(chapters=["mlp", "attention"], generation=None)
    assert [c.id for c in t.chapters] == ["attention", "mlp"]
    assert t.chapters[0].frame_start == t.frame_start and t.chapters[-1].frame_end == t.frame_end
    assert t.chapters[1].frame_start == t.chapters[0].frame_end + 1
    for c in t.chapters:
        assert c.steps[0].frame_start == c.frame_start and c.steps[-1].frame_end == c.frame_end
        assert all(b.frame_start == a.frame_end + 1 for a, b in zip(c.steps, c.steps[1:]))
    for key in ("tokens", "x", "h0.ln1.mean", "h0.ln1"):  # earlier: computed before the first frame
        assert np.all(t.reveal[key] < t.frame_start), key
    mlp = t.chapter("mlp")
    for key in ("h0.attn_proj", "h0.attn_resid"):  # between: fast-forward at the start of mlp
        assert key in mlp.steps[0].computes and key in mlp.blocks
        assert mlp.frame_start <= t.reveal[key].min() and t.reveal[key].max() < t.reveal["h0.ln2.mean"].min()
    for key in ("h1.ln1", "h2.mlp_resid", "ln_f", "probs"):  # later: never
        assert np.all(t.reveal[key] == tl.NEVER), key
    assert all(LAYOUT[k].group == "Self-attention" for k in t.chapter("attention").blocks)
    assert np.all(t.reveal["h0.fc_weight"] == tl.ALWAYS)


def test_subset_with_overview_and_generation():
    t = build(chapters=["overview", "generation"])
    assert [c.id for c in t.chapters] == ["overview", "generation"]
    for b in FED_LAYOUT.blocks:  # the input's columns there already, the others computed by the passes
        first = units(b) < len(TOKENS) if b.kind != "weight" else np.ones(b.n_cells, bool)
        assert np.all(t.reveal[b.key][first] < t.frame_start) and np.all(t.reveal[b.key][~first] >= t.frame_start)
    assert [p.token for p in t.predictions] == GEN.generated
    only = build(chapters=["overview"], generation=None)
    assert all(np.all(only.reveal[b.key] == tl.NEVER) for b in LAYOUT.blocks if b.kind != "weight")


def test_start_layer():
    t = build(start_layer=1, generation=None)
    assert [c.id for c in t.chapters] == [c for c in tl.CHAPTERS if c not in ("embedding", "facts", "generation")]
    for b in LAYOUT.blocks:
        if b.kind != "weight" and (b.layer == 0 or b.section == "Embedding"):
            assert np.all(t.reveal[b.key] < t.frame_start), b.key
    assert "h1.head0.q" in t.chapter("attention").blocks
    assert {LAYOUT[k].layer for k in t.chapter("stack").blocks} == {2}
    assert "Layer 1 is done" in t.chapter("mlp").steps[-1].caption
    last = build(start_layer=2)
    assert "stack" not in [c.id for c in last.chapters]
    assert set(computed(last)) >= {"h2.fc", "probs"}


@pytest.mark.parametrize("kwargs, field", [
    ({"chapters": ["attention", "intro"]}, "chapters"), ({"chapters": []}, "chapters"),
    ({"chapters": "mlp"}, "chapters"), ({"start_layer": 3}, "start_layer"), ({"start_layer": -1}, "start_layer"),
    ({"start_layer": True}, "start_layer"), ({"start_layer": 1, "chapters": ["embedding"]}, "chapters"),
    ({"start_layer": 2, "chapters": ["stack"]}, "chapters"),
    ({"generation": None, "chapters": ["generation"]}, "chapters"),
])
def test_bad_options(kwargs, field):
    with pytest.raises(tl.TimelineError) as err:
        build(**kwargs)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_trace_must_match():
    other = model.forward(WEIGHTS, TOKENS[:4])
    with pytest.raises(tl.TimelineError, match="^trace"):
        tl.build_timeline(LAYOUT, other)
    with pytest.raises(tl.TimelineError, match="^generation"):
        tl.build_timeline(LAYOUT, TRACE, generation=model.generate(WEIGHTS, TOKENS[::-1], 1))
    with pytest.raises(tl.TimelineError, match="^generation: the layout needs a column"):
        tl.build_timeline(LAYOUT, TRACE, generation=GEN)  # no columns for the fed-back tokens


def test_without_generation_or_weights():
    t = tl.build_timeline(LAYOUT, TRACE)
    assert "generation" not in [c.id for c in t.chapters] and not t.predictions
    assert {u.kind for u in t.closeups} == {"embedding_sum", "attention_row"}  # Q and MLP need the weights
    assert set(computed(t)) == {b.key for b in LAYOUT.blocks if b.kind != "weight"}


# ---- captions ------------------------------------------------------------------------------------

def test_captions_quote_the_trace(full):
    probs = TRACE["probs"][-1]
    best = int(np.argmax(probs))
    assert model.decode(NANO, [best]) == "A" == model.decode(NANO, GEN.generated[:1])
    caption = full.chapter("output").steps[-1].caption
    assert "'A'" in caption and f"{probs[best]:.2f}" in caption
    mean = full.chapter("layer_norm").steps[0].caption
    assert num(TRACE["h0.ln1.mean"][0]) in mean
    assert "CBABBC" in full.chapter("overview").steps[1].caption
    gen = full.chapter("generation").steps
    for step, tok in zip([s for s in gen if "probs" in s.computes], GEN.generated[1:]):
        assert f"predicts '{model.decode(NANO, [tok])}'" in step.caption
    assert "'CBABBCABBBCC'" in gen[-1].caption
    assert [p.text for p in full.predictions] == list("ABBBCC")
    assert all(p.probability == pytest.approx(float(tr["probs"][-1][p.token]))
               for p, tr in zip(full.predictions, GEN.traces))
    assert all(s.caption and s.caption.isascii() for s in full.steps)


# ---- close-ups -----------------------------------------------------------------------------------

def test_closeups_recompute(full):
    ups = {u.kind: u for u in full.closeups}
    assert set(ups) == {"embedding_sum", "q_value", "attention_row", "mlp_value"}
    for c in full.chapters:
        for u in c.closeups:
            assert c.frame_start <= u.frame_start <= u.frame_end <= c.frame_end
            for key, row, col in [u.target, *u.sources]:
                assert LAYOUT[key].has_cell(row, col)
    e = ups["embedding_sum"].numbers
    np.testing.assert_allclose(e["token_embedding"] + e["position_embedding"], e["sum"], atol=1e-6)
    np.testing.assert_allclose(e["sum"], TRACE["x"][0], atol=1e-7)

    q = ups["q_value"]
    n = q.numbers
    assert n["bias"] + n["weights"] @ n["inputs"] == pytest.approx(q.value, abs=1e-5)
    key, row, col = q.target
    assert q.value == pytest.approx(float(TRACE["h0.q"][0, col, row]), abs=1e-7)
    assert "..." in q.formula and num(q.value, 3) in q.formula

    a = ups["attention_row"]
    n = a.numbers
    r = a.target[1]
    scores = n["keys"] @ n["query"] / n["scale"]
    np.testing.assert_allclose(n["scores"][:r + 1], scores, atol=1e-5)
    assert np.all(np.isneginf(n["scores"][r + 1:])) and "masked" in a.formula
    soft = np.exp(n["scores"] - n["max"]) / n["sumexp"]
    np.testing.assert_allclose(n["softmax"], soft, atol=1e-6)
    assert n["softmax"].sum() == pytest.approx(1.0, abs=1e-6) and a.value == n["softmax"].max()

    m = ups["mlp_value"]
    n = m.numbers
    assert n["bias"] + n["weights"] @ n["inputs"] == pytest.approx(float(n["fc"]), abs=1e-5)
    assert float(model.gelu(np.float32(n["fc"]))) == pytest.approx(m.value, abs=1e-6)


def test_closeups_and_the_readout_write_the_same_numbers(full):
    """A close-up's formula and the cell readout of the same cells show the same numbers, written alike."""
    ups = {u.kind: u for u in full.closeups}

    def numbers(key, row, col, sep=" = "):  # the readout formula after its description
        return readout.explain(LAYOUT, TRACE, WEIGHTS, key, row, col).formula.split(sep, 1)[1]

    for kind in ("embedding_sum", "q_value"):
        assert numbers(*ups[kind].target) in ups[kind].formula, kind
    m = ups["mlp_value"]
    key, row, col = m.target
    assert numbers(LAYOUT[key].reads[0], row, col) in m.formula  # the dot product of the fc cell
    assert numbers(key, row, col, "; ") in m.formula  # GELU of it
    a = ups["attention_row"]
    terms = readout.explain(LAYOUT, TRACE, WEIGHTS, *a.target).terms
    assert f"max {precise(terms['max'])}" in a.formula and f"max) {precise(terms['sumexp'])}" in a.formula


# ---- camera --------------------------------------------------------------------------------------

def test_camera_keys(full):
    frames = [k.frame for k in full.camera_keys]
    assert frames == sorted(set(frames)) and frames[0] == full.frame_start
    assert len(full.camera_keys) <= 3 * len(full.steps)  # per view: arrive, crept in, held until the next
    for k in full.camera_keys:
        assert full.frame_start <= k.frame <= full.frame_end and len(k.pose.location) == len(k.pose.target) == 3
    a, b = full.camera_keys[3], full.camera_keys[4]
    assert full.camera_at(a.frame) == a.pose
    mid = full.camera_at((a.frame + b.frame) / 2)  # smoothstep(0.5) = 0.5
    np.testing.assert_allclose(mid.location, np.add(a.pose.location, b.pose.location) / 2)
    np.testing.assert_allclose(mid.shift, np.add(a.pose.shift, b.pose.shift) / 2)
    assert tl.ease(0) == 0 and tl.ease(1) == 1 and tl.ease(-3) == 0 and tl.ease(0.25) < 0.25
    for s in full.steps:  # each step's view holds what its caption names, or its focus blocks
        boxes = [r.box(FED_LAYOUT) for r in s.referents] or (
            [FED_LAYOUT.bounds([FED_LAYOUT[k] for k in s.focus])] if s.focus else [])
        for lo, hi in boxes:
            assert np.all(s.target[0] <= lo + 1e-9) and np.all(hi <= s.target[1] + 1e-9)


# ---- cost ----------------------------------------------------------------------------------------

def test_key_budget(full):
    assert full.key_count_estimate() <= 5000
    wide = NANO.replace(n_embd=96)  # twice the cells per block, same blocks: same keys
    w = model.random_weights(wide, seed=1)
    gen = model.generate(w, TOKENS, 6)
    wide_t = tl.build_timeline(L.model_layout(wide, len(gen.tokens) - 1), gen.traces[-1], generation=gen, weights=w)
    assert wide_t.key_count_estimate() == full.key_count_estimate()

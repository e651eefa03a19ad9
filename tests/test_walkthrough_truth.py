"""Every number on screen belongs to its moment: at each step's key frame, the caption, the
next-token list, the probabilities and the generated tokens that are visible describe the pass
being shown (read back from the scene, compared with the model's own generation)."""

import re

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from llmviz_blender import model, scene  # noqa: E402
from llmviz_blender.scene.labels import NEXT, next_tokens  # noqa: E402
from llmviz_blender.scene.walkthrough import ROOT, steps_of  # noqa: E402
from llmviz_blender.timeline.reveal import units  # noqa: E402


def _attribute(obj, name: str, dtype=np.float32) -> np.ndarray:
    data = obj.data.attributes[name].data
    out = np.empty(len(data), dtype)
    data.foreach_get("value", out)
    return out


@pytest.mark.parametrize("preset, kwargs, chapters", [
    ("nano-gpt", {}, None),
    ("facts-gpt", {"prompt": "Tiger Woods plays the sport of"}, ["output", "generation"]),
])
def test_every_number_on_screen_belongs_to_its_moment(fresh_blend, preset, kwargs, chapters):
    coll = scene.build(preset, **kwargs)
    scene.animate(coll, chapters=chapters)
    m = scene.model_of(coll)
    cfg, n_in = m.config, len(m.tokens)
    gen = model.generate(m.weights, m.tokens, len(m.fed) + 1)  # the walkthrough's greedy generation
    assert m.fed == gen.generated[:-1] and m.layout.n_tokens == n_in + len(m.fed)
    probs = next(o for o in coll.all_objects if o.get("llmviz_key") == "probs")
    column = units(m.layout["probs"])
    reveal, values = _attribute(probs, "reveal"), _attribute(probs, "value")
    sc = bpy.context.scene
    lists_seen = sequences_seen = 0
    steps = steps_of(coll)
    fanned = cfg.tokenizer is not None
    for s in steps:
        f = s["key"]
        sc.frame_set(f)
        visible = [o for o in coll.all_objects if o.type == "FONT" and not o.hide_render]
        captions = [o.data.body for o in visible if o.name.startswith(f"{ROOT} Caption ")]
        assert captions == [s["caption"]], f
        done = [c for c in range(m.layout.n_tokens) if reveal[column == c].max() <= f]
        lists = [o for o in visible if o.get(NEXT)]
        if not done:
            assert not lists, f
            continue
        c = max(done)
        j = max(c - n_in + 1, 0)  # the pass whose probabilities are the latest on screen
        assert done == list(range(c + 1)), f  # no column computed out of turn
        np.testing.assert_allclose(values[column == c], gen.traces[j]["probs"][c], atol=1e-6)  # that pass's numbers
        shown = gen.traces[j]["probs"][-1]
        assert len(lists) <= (1 if c >= n_in - 1 else 0), (f, [o.name for o in lists])
        for o in lists:
            assert o.data.body == next_tokens(cfg, shown, int(o[NEXT]), "\n" in o.data.body), (f, o.data.body)
        lists_seen += len(lists)
        generated = sorted((o for o in visible if o.name.startswith(f"{ROOT} Generated ")),
                           key=lambda o: int(o.name.rsplit(" ", 1)[1]))
        appended = [o.data.body for o in generated]
        expected = [model.token_text(cfg, t, quoted=False) for t in gen.generated]
        assert appended == expected[:len(appended)] and len(appended) <= j + 1, f  # up to the token being fed
        lines = [o.data.body for o in visible if o.name.startswith(f"{ROOT} Sequence ")]
        assert lines in ([], *([model.sequence_text(cfg, m.tokens, gen.generated[:n])] for n in (j, j + 1))), f
        outcome = re.match(r"Pass \d+ (predicts|samples) ", s["caption"]) or s is steps[-1]
        if s["chapter"] == "generation" and outcome:  # the pass's outcome, in view
            assert lines and (lists or fanned), f  # word pieces: their list may yield to the sequence line
            sequences_seen += 1
    assert sequences_seen == len(gen.traces) and lists_seen >= (1 if fanned else len(gen.traces))

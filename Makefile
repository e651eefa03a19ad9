# Two commands set everything up on a fresh machine with Python 3.11: `make render` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test bench clean

# The project's dependencies only (pyproject's dependencies + dev extra), not the project itself:
# tests and scripts import llmviz_blender from the checkout, and a saved .blend must be shown to
# play where the add-on cannot be imported.
DEPS = $(shell $(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(" ".join(repr(d) for d in p["dependencies"] + p["optional-dependencies"]["dev"]))')

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(DEPS)
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) scripts/bench.py all

# --- Gallery: `make render` is the quick-start still, `make renders` regenerates renders/ ----------
RENDER := $(PY) scripts/render.py --resolution 1920x1080
FINAL := --quality final
# The stills in both themes (light ones end in -light), a 9:16 frame, the facts chapter, a storyboard,
# and one still per walkthrough chapter (the key frame of its middle step, told with that chapter
# only); override to pick chapters, e.g. `make renders GALLERY_CHAPTERS="attention mlp"`, or empty.
# GPT-2 small by value: seeded random weights (no download here), 32 tokens.
GPT2 := --preset gpt2-small --weights random --tokens $(shell seq -s, 0 31)
GALLERY_CHAPTERS ?= overview embedding layer_norm attention projection mlp stack output generation

# The quick start: the overview still, and the attention chapter as a short draft video with its
# subtitles (.srt, .vtt) and chapters file beside it (not committed; minutes on 2 cores: about 400 of its
# 854 frames are rendered, the holds copied; 12 frames a second: --fps sets frames, not the seconds).
render: $(STAMP)
	@mkdir -p renders
	$(RENDER) $(FINAL) --still renders/nano-gpt-overview.png
	$(PY) scripts/render.py --resolution 960x540 --quality draft --fps 12 --chapters attention \
		--animation renders/nano-gpt-attention.mp4

renders: render
	@for t in dark light; do \
		s=$$([ $$t = light ] && echo -light); \
		echo "== $$t theme"; \
		[ $$t = dark ] || $(RENDER) $(FINAL) --theme $$t --still renders/nano-gpt-overview$$s.png || exit 1; \
		$(RENDER) $(FINAL) --theme $$t --camera h0.head0 --still renders/nano-gpt-attention-head$$s.png || exit 1; \
		$(RENDER) $(FINAL) --theme $$t --camera h0.mlp --still renders/nano-gpt-mlp$$s.png || exit 1; \
		$(RENDER) $(FINAL) --theme $$t --compare nano-gpt,gpt2-small,gpt2-xl,gpt3 --still renders/comparison$$s.png || exit 1; \
		$(PY) scripts/render.py --resolution 864x1536 $(FINAL) --theme $$t --chapters attention \
			--still renders/vertical-attention$$s.png || exit 1; \
	done
	@for c in $(GALLERY_CHAPTERS); do \
		echo "== chapter $$c"; \
		$(RENDER) $(FINAL) --chapters $$c --still renders/chapter-$$c.png || exit 1; \
	done
	$(PY) scripts/render.py --resolution 1600x900 $(FINAL) --preset facts-gpt --prompt "Tiger Woods plays the sport of" \
		--logit-lens --chapters facts --still renders/facts-mlp.png  # 1600x900: its dense weights stay under 1 MB
	$(RENDER) $(FINAL) --preset facts-gpt --logit-lens --chapters facts --still renders/facts-attention.png
	$(RENDER) $(FINAL) $(GPT2) --camera layers --still renders/gpt2-small-layers.png
	$(RENDER) $(FINAL) $(GPT2) --still renders/gpt2-small-overview.png
	$(RENDER) $(FINAL) $(GPT2) --zoom-to h5.fc:1021,3 --still renders/gpt2-small-cell.png
	$(RENDER) --quality draft $(GPT2) --value-budget 5 --camera h0.fc:1021,16 --still renders/gpt2-small-draft.png
	$(PY) scripts/render.py --resolution 640x360 --storyboard renders/storyboard.png --storyboard-width 288
	@for l in ja ko zh-Hant; do \
		echo "== the attention chapter in $$l"; \
		$(RENDER) $(FINAL) --chapters attention --language $$l --still renders/chapter-attention-$$l.png || exit 1; \
	done
	@echo "== the Llama family"
	$(RENDER) $(FINAL) --preset nano-llama --still renders/nano-llama-overview.png
	# the attention chapter's grouped-query step: 4 query heads, 2 shared K/V heads (a frame of that step);
	# these two at 1600x900: their dense cubes stay under 1 MB
	$(PY) scripts/render.py --resolution 1600x900 $(FINAL) --preset nano-llama --chapters attention --frames 1580 \
		--still renders/nano-llama-attention.png
	$(PY) scripts/render.py --resolution 1600x900 $(FINAL) --preset nano-llama --camera h0.head0.q_rot:1,4 \
		--still renders/nano-llama-rotary.png
	$(RENDER) $(FINAL) --compare nano-gpt,nano-llama --still renders/nano-gpt-vs-nano-llama.png
	$(RENDER) $(FINAL) --compare nano-gpt,gpt2-small,llama-3.1-8b,gpt3,llama-3.1-405b --still renders/comparison-llama.png
	# SmolLM2-135M by value (seeded random weights): the end of a flight down to one cell of layer 5's MLP
	$(RENDER) $(FINAL) --preset smollm2-135m --weights random --tokens $(shell seq -s, 0 31) \
		--zoom-to h5.swiglu:1000,3 --still renders/smollm2-135m-cell.png

.PHONY: render renders

clean:
	rm -rf $(VENV) dist build .pytest_cache .hypothesis

# --- Blender extension zip and the bpy version matrix --------------------------------------------
# `make extension`: fetch the manifest's safetensors wheels into ./wheels (only when missing), then
# validate and build dist/llmviz_blender-<version>.zip with Blender's own extension tool.
extension: $(STAMP)
	$(PY) scripts/build_extension.py

# `make test-matrix`: the suite on bpy 4.2 and 5.0 (own venvs, created once) and on the 4.5 .venv.
# numpy is pinned to what each Blender bundles (4.2: 1.24; 4.5 and 5.0: 1.26).
MATRIX_DEPS = $(filter-out 'bpy%' 'numpy%',$(DEPS))
NUMPY_4.2 := numpy==1.24.*
NUMPY_5.0 := numpy==1.26.*

.venv-%/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	.venv-$*/bin/python -m pip install -q "bpy==$*.*" "$(NUMPY_$*)" $(MATRIX_DEPS)
	touch $@

test-matrix: $(STAMP) .venv-4.2/.installed .venv-5.0/.installed
	@for v in .venv-4.2 .venv-5.0 $(VENV); do \
		echo "== $$($$v/bin/python -c 'import bpy; print("bpy", bpy.app.version_string)' 2>/dev/null | tail -1) ($$v)"; \
		$$v/bin/python -m pytest -q -p no:cacheprovider || exit 1; \
	done

.PHONY: extension test-matrix

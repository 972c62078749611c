# deliverscan — two commands on a fresh machine: `make setup`, then `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup system-deps test lint scan fixtures bench bench-quick bench-growth bench-synthetic \
	bench-cluster bench-metadata bench-register bench-register-scale bench-register-negatives \
	bench-register-sweep bench-waveform-cost bench-audio-speed bench-audio-pack bench-audio-edges fuzz \
	clean

setup: system-deps $(BIN)/deliverscan

# (PYTHONWARNINGS: setuptools explains editable installs at length on every run. compileall:
# byte code even where PYTHONDONTWRITEBYTECODE is set, so no run compiles the sources again.)
$(BIN)/deliverscan: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q scanner detectors
	touch $@

# ExifTool drives the deep metadata tier; ffmpeg is only needed to regenerate fixtures.
system-deps:
	@sh scripts/install-system-deps.sh

# One pytest worker per core (pytest-xdist): the suite is CPU-bound. TEST_JOBS=0 runs it in
# one process, e.g. to debug a failure.
TEST_JOBS ?= auto

test: $(BIN)/deliverscan
	$(BIN)/ruff check scanner detectors tests fixtures bench
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_JOBS)

lint:
	$(BIN)/ruff check scanner detectors tests fixtures bench
	$(BIN)/mypy

scan: $(BIN)/deliverscan
	-$(BIN)/deliverscan scan fixtures

fixtures: $(BIN)/deliverscan
	DELIVERSCAN_FIXTURE_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m fixtures.make_fixtures

clean:
	rm -rf build *.egg-info .pytest_cache .ruff_cache test-artifacts

# Realistic delivery (10,000 files: real H.264/ProRes clips, 24 MP/12 MP camera stills, WAVs,
# 2 % planted markers of every kind, sparse 4/50 GiB masters) against ExifTool; built once into
# bench/results/tmp/ (~6 min the first time: ffmpeg, and PyPI for the photographs); writes
# bench/results/real.md (~5-10 min a run).
bench: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_real --files 10000

bench-quick: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_real --quick

# Growth check (~40 GB on disk): writes real.md with the 10k-vs-100k table.
bench-growth: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_real --files 100000

# The former synthetic tree (tiny files): bench/results/latest.md
bench-synthetic: $(BIN)/deliverscan
	$(BIN)/python -m bench.run_bench

# What the scale-out capacity model rests on (~2 min): bench/results/scale-out.md
bench-cluster: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_cluster

bench-metadata: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_metadata

# The temp-AI register (issue 18): the finished programme (5 encodes with sound, held-out
# split, ~15 min), then the per-transform table (~15 min). espeak-ng speaks the VO; the
# pictures are fetched from PyPI once (scikit-image's wheel). bench/results/register.md
bench-register: $(BIN)/deliverscan
	DELIVERSCAN_BENCH_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m bench.register_programme
	$(BIN)/python -m bench.bench_register

# Look-up cost against register size: PDQ at 1k/10k/100k entries, the local-feature check at
# 1k/10k/100k registered frames of natural pictures with planted inserts (~6 min, 8 GB);
# then the programme against a register padded with 10,000 unrelated stills, each encode
# alone and the three with their stems as one delivery through the CLI at -j 1 and -j 2
# (~13 min).
bench-register-scale: $(BIN)/deliverscan
	DELIVERSCAN_BENCH_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m bench.register_scale
	$(BIN)/python -m bench.register_programme --encodes 3 --pad 10000 --delivery

# Per-class recall over many randomised inserts (40 per class, 9 classes, 1-3 s each, in a
# 21-minute ProRes programme; ~55 min on 2 cores, most of it making the programme): the raw
# report goes to bench/results/tmp/register-sweep.md, the commented figures are in
# bench/results/register-sweep.md
bench-register-sweep: $(BIN)/deliverscan
	DELIVERSCAN_BENCH_TOOLS=1 sh scripts/install-system-deps.sh
	mkdir -p bench/results/tmp
	$(BIN)/python -m bench.register_sweep --out bench/results/tmp/register-sweep.md

# The waveform search's cost against the register's sound (about 2 min, one core).
bench-waveform-cost: $(BIN)/deliverscan
	$(BIN)/python -m bench.waveform_cost

# The whole audio path on a 5 min programme WAV against 1 min to 5 hours of registered sound,
# the whole waveform search against its short list (~25 min idle, most of it growing the
# register): bench/results/audio-rule.md. AUDIO_SPEED_WORK=DIR keeps the programme and the
# registers there (3.2 GB) and reuses them: a second run, or one of another version, ~4 min.
bench-audio-speed: $(BIN)/deliverscan
	$(BIN)/python -m bench.audio_speed --minutes 5 $(if $(AUDIO_SPEED_WORK),--work $(AUDIO_SPEED_WORK))

# The landmark pack mapped from its file, read into memory, or looked up in SQLite, at 1 and 5
# hours of registered cues and 20 and 80 hours grown from them: scan time and memory per process
# (~20 min to build the registers, ~15 more for the rest; 14 GB of disk, 13 GB of memory at
# 80 hours): bench/results/audio-rule.md. AUDIO_PACK_WORK=DIR keeps it all there.
bench-audio-pack: $(BIN)/deliverscan
	$(BIN)/python -m bench.audio_speed --minutes 5 --register 60,300 --compare-up-to 0 \
		--work $(or $(AUDIO_PACK_WORK),bench/results/tmp/audio-pack)
	$(BIN)/python -m bench.audio_pack --work $(or $(AUDIO_PACK_WORK),bench/results/tmp/audio-pack) \
		--grow 20,80

# Audio in and out points against 128 inserts per split, 8 classes (~1.5 min a split, one
# core; espeak-ng for the VO classes): bench/results/audio-rule.md
bench-audio-edges: $(BIN)/deliverscan
	DELIVERSCAN_BENCH_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m bench.audio_edges --split tune
	$(BIN)/python -m bench.audio_edges --split held

# The register's false matches on every unrelated picture, clip and sound found offline plus
# derived footage (~25 min on 2 cores): bench/results/register-negatives.md
bench-register-negatives: $(BIN)/deliverscan
	DELIVERSCAN_BENCH_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m bench.register_negatives

# Set-up and the two entry points of the README: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
DEVICE_VENV := .venv-device
RUN := runs/digits-pss

.PHONY: setup demo test test-slow arm64-env java-env android wheel clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e ".[host,test]"
	touch $@

# The torch-free device environment (numpy<2 + tflite-runtime), as on a Raspberry Pi.
$(DEVICE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/pip install -q --disable-pip-version-check -e ".[device,tflite]"
	touch $@

setup: $(VENV)/.installed $(DEVICE_VENV)/.installed

BUNDLE := $(RUN)-android-arm64

demo: $(VENV)/.installed
	$(VENV)/bin/edgeslim train --model resnet20 --data digits --method pss --epochs 30 --out $(RUN) --force
	$(VENV)/bin/edgeslim eval $(RUN) --plot $(RUN)/accuracy_vs_mflops.png
	$(VENV)/bin/edgeslim build $(RUN) --target android-arm64 --out $(BUNDLE) --force
	$(VENV)/bin/edgeslim profile $(BUNDLE) --backend tflite --runs 200
	$(VENV)/bin/edgeslim simulate $(BUNDLE) --trace calibration/trace-throttling-ramp.csv --plot $(BUNDLE)/simulate.png

PYTEST := EDGESLIM_DEVICE_PYTHON=$(CURDIR)/$(DEVICE_VENV)/bin/python $(VENV)/bin/python -m pytest -q --durations=10

# The default suite; `make test-slow` runs the tests marked slow (CI runs both).
test: setup java-env
	$(PYTEST) -m "not slow"

test-slow: setup arm64-env
	$(PYTEST) -m slow

# An emulated ARM64 device environment (qemu-user, Debian's arm64 Python, aarch64 wheels) for the slow tests.
arm64-env:
	bash .ci/arm64-env

# The JDK and JUnit 5 the Android library's tests need (apt-get, where missing).
java-env:
	bash .ci/java-env

# The Android library as a jar (plain Java 17, no Android classes): android/build/edgeslim-android.jar;
# `java -jar android/build/edgeslim-android.jar BUNDLE OUTDIR` assembles a bundle's artifacts.
ANDROID_JAR := android/build/edgeslim-android.jar
android: $(ANDROID_JAR)

$(ANDROID_JAR): $(shell find android/src/main -name '*.java')
	rm -rf android/build/classes && mkdir -p android/build/classes
	javac --release 17 -encoding UTF-8 -Xlint:all -Werror -d android/build/classes $^
	jar --create --file $@ --main-class dev.edgeslim.Assemble -C android/build/classes .

# The wheel a board installs without a checkout: pip install "edgeslim-<version>-py3-none-any.whl[device,tflite]"
wheel: $(VENV)/.installed
	$(VENV)/bin/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(VENV) $(DEVICE_VENV) runs dist .arm64 android/build

# Aftercare — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages: the stack itself, and what the tests use (a headless
# browser and a CJK font to render the report; PostgreSQL client tools;
# VictoriaMetrics for the scale-out test; docker-compose and systemd to
# validate the compose file and the units offline; mosquitto and redis-server
# for the throwaway brokers of the link tests; poppler-utils' pdftotext for the
# installed-package test; pgbackrest for a real backup repository; locales for
# servers that write in Chinese and other languages; nginx, apache2 and node_exporter for
# the access-log, application-server and host tests). The product's own run-time
# packages (Pango, the CJK font, the PostgreSQL client) come from
# deploy/install.sh, as in the image.
APT_PACKAGES := prometheus prometheus-alertmanager chromium fonts-wqy-microhei postgresql-client \
	victoria-metrics docker-compose systemd mosquitto redis-server poppler-utils locales pgbackrest \
	nginx apache2 prometheus-node-exporter iproute2
# locales the servers of the language tests run under (a PostgreSQL writing its log in Chinese, ...)
LOCALES := zh_CN.UTF-8 zh_TW.UTF-8 ja_JP.UTF-8 ko_KR.UTF-8 de_DE.UTF-8 fr_FR.UTF-8 ru_RU.UTF-8
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test demo demo-month venv system-deps check dashboards rules-sla constraints clean help

help:
	@echo "make test   - create .venv, install what the tests need, run the whole suite"
	@echo "make demo   - run the native stack against a throwaway demo system (Ctrl-C stops it)"
	@echo "make demo-month - backfill a realistic month for the demo system and write its report (zh, en)"
	@echo "make check  - offline checks: ruff (lint, format), mypy, promtool, amtool, config example, dashboards drift"
	@echo "make dashboards - regenerate dashboards/generated/*.json from the grafanalib sources"
	@echo "make rules-sla CONFIG=aftercare.yml - regenerate rules/services.sla.rules.yml from the systems' SLAs"
	@echo "make constraints - re-pin constraints.txt from a fresh install of .[test]"

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian packages the stack runs on (installed only when missing; needs root)
system-deps:
	@deploy/install.sh --system-deps-only
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@for loc in $(LOCALES); do \
	  locale -a | grep -qix "$${loc/UTF-8/utf8}" || localedef -i "$${loc%%.*}" -f UTF-8 "$$loc"; \
	done

test: venv system-deps
	$(VENV)/bin/pytest -q

demo: venv system-deps
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql)
	$(PY) -m scripts.demo

demo-month: venv system-deps
	$(PY) -m scripts.demo_month

check: venv system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	promtool check rules rules/*.yml
	promtool test rules rules/tests/*.yml
	amtool check-config alertmanager/alertmanager.yml
	$(VENV)/bin/aftercare-exporter check-config examples/aftercare.yml
	$(PY) -m dashboards.build --check

dashboards: venv
	$(PY) -m dashboards.build

CONFIG ?= examples/aftercare.yml
rules-sla: venv
	$(PY) -m scripts.gen_rules --config.file $(CONFIG) --out rules/services.sla.rules.yml

# pins every Python package the image and CI install; run after changing dependencies
constraints:
	rm -rf .constraints-venv
	$(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/pip install --quiet '.[test]'
	{ sed -n '1,2p' constraints.txt; .constraints-venv/bin/pip freeze --exclude-editable --all \
	  | grep -v -E '^(aftercare|pip|setuptools|wheel)( @|==)'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) demo-out .pytest_cache

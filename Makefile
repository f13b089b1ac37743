# The two commands a new user needs (README.md): `make run` and `make test` (bootstrap, lint, types,
# every test tier). The others are for working on the code and expect the virtualenv (make bootstrap).
.PHONY: run test bootstrap lint fmt unit integration
VENV := .venv/bin
run:
	scripts/run.sh
test:
	scripts/test.sh
bootstrap:
	scripts/bootstrap.sh
# ruff (rules in pyproject.toml), the formatter's check and mypy --strict: what make test checks first
lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
# apply the formatter and ruff's safe fixes
fmt:
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .
# the tests without a broker (seconds)
unit:
	$(VENV)/pytest tests/unit -q
# the tests against the real local Kafka broker (their fixtures start one; minutes)
integration:
	$(VENV)/pytest tests/integration -q

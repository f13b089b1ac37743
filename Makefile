# The two commands a new user needs (README.md): `make run` and `make test` (bootstrap, lint, types,
# every test tier). The others are for working on the code and expect the virtualenv (make bootstrap).
.PHONY: run test bootstrap lint fmt unit integration check-k8s image
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
# opt-in, not part of `make test`: every deploy/k8s overlay applied with --server-side --dry-run=server
# --validate=strict to a real kube-apiserver + etcd on 127.0.0.1 (built once from k8s.io/kubernetes
# into deploy/local/cache/apiserver, minutes; installs Debian's etcd-server if missing; deploy/k8s/README.md)
check-k8s:
	$(VENV)/jeugdhub k8s-dry-run
# opt-in, not part of `make test`: build the Dockerfile with buildah (--isolation chroot) on a Debian
# base made by mmdebstrap (cached in deploy/local/cache/image), then check it as uid 10001: user,
# entrypoint, no hubdev, `jeugdhub replay` of the worked example = its expected figures (deploy/k8s/README.md)
image:
	$(VENV)/python -m hubdev.image

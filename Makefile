# The two commands a new user needs (README.md): `make run` and `make test`.
.PHONY: run test bootstrap
run:
	scripts/run.sh
test:
	scripts/test.sh
bootstrap:
	scripts/bootstrap.sh

"""The project's tests, one package: support modules are imported by their path here
(``from tests.integration.hub_processes import running``), so two test modules may share a name."""

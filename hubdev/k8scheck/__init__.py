"""Schema validation of the Kubernetes manifests (``jeugdhub k8s-check``, tests/unit/deploy).

:mod:`.fetch` gets the pinned tools and schemas once into ``deploy/local/cache/k8scheck/``;
:mod:`.crdschema` turns CRDs into strict JSON schemas; :mod:`.check` renders every kustomization
with the pinned kustomize and runs kubeconform over it. See deploy/k8s/README.md.
"""

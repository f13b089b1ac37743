"""Deployment artefacts generated from the code's own declarations (``jeugdhub deploy render``)."""

"""Everything that knows HTTP: the fast lane, body limits, errors as replies, auth, and the
V2, TF Serving and repository endpoints, each a thin translator onto the data plane
(gateway.serving) or the control plane (gateway.control).
"""

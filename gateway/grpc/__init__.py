"""The gRPC front end: KServe V2's GRPCInferenceService and TF Serving's PredictionService
and ModelService on one port, a sibling of gateway.rest calling the same DataPlane and
ControlPlane (docs/architecture.md)."""

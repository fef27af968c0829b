//! The MLflow-compatible tracking server (`modelops server`): REST API 2.0, artifacts proxy and web UI.

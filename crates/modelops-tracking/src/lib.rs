//! Tracking store: experiments, runs, params, metrics, tags (and later registered models), behind one `Store`
//! trait with SQLite, PostgreSQL and remote MLflow REST backends; artifact stores through `object_store`.

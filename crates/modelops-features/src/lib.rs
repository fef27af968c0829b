//! Origin-safe feature engineering: a pure function of (row inputs, store metadata, history strictly before the
//! forecast origin), and the feature spec a model package carries.

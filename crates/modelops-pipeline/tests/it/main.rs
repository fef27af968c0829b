//! End-to-end tests of the pipeline on small synthetic data: train → package → batch predict → gate.

mod train_predict;

//! Hand-checked numbers.

//! The prompt for one finding, built from the thread alone. Pure.

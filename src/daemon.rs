//! The only module that knows the order of the stages.
